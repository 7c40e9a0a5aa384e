import FuzzSupport
@_spi(Fuzzing) import ScaleKit

/// Bytes split into `NAME=value` lines form an environment: reading it must
/// succeed or throw invalidConfiguration naming a variable, and a password in
/// a URL must never appear in the error.
runFuzzer(fuzzOne)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: bytes(data, size), as: UTF8.self)
    let names = ScaleKitConfiguration.environmentVariableNames
    var environment: [String: String] = [:]
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        // The line index picks the variable, so the fuzzer need not guess names.
        environment[names[index % names.count]] = String(line) + (index % 3 == 0 ? "" : "@x.y")
    }
    do throws(ScaleKitError) {
        let configuration = try ScaleKitConfiguration(environment: environment)
        precondition(configuration.pool.size >= 1 && configuration.pool.maxOverflow >= 0, "pool settings out of range")
        precondition(configuration.apiLimits.daily >= 0 && configuration.apiLimits.hourly >= 0, "negative limits")
    } catch {
        precondition(error.code == .invalidConfiguration, "unexpected error \(error)")
        precondition(names.contains(where: { error.message.contains($0) }), "the error must name the variable")
    }
    return 0
}
