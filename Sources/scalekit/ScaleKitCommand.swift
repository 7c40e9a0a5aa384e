import ArgumentParser

@main
struct ScaleKitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scalekit",
        abstract: "Inspect and drive ScaleKit's backends from the shell."
    )
}
