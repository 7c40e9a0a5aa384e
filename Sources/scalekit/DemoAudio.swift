extension DemoFlow {
    /// Joins and mixes a few synthesized segments (filled in when an audio backend is built in).
    func audioStep() async throws {
        say("\n4. Audio: no mixer in this build; skipped")
    }
}
