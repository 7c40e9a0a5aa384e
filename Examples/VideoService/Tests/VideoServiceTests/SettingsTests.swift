import ScaleKit
import Testing

@testable import VideoService

@Suite struct SettingsTests {
    @Test func defaultsWithNoEnvironment() throws {
        let settings = try VideoServiceSettings(environment: [:])
        #expect(settings.host == "127.0.0.1")
        #expect(settings.port == 8080)
        #expect(settings.stageDuration == .milliseconds(250))
        #expect(settings.maxConcurrentJobs == 8)
        #expect(settings.lease == .seconds(120))
    }

    @Test func readsTheAddressAndTheLease() throws {
        let settings = try VideoServiceSettings(environment: ["VIDEO_SERVICE_HOST": "10.77.0.11", "VIDEO_SERVICE_LEASE_MS": "4000"])
        #expect(settings.host == "10.77.0.11")
        #expect(settings.lease == .milliseconds(4000))
        #expect(try VideoServiceSettings(environment: ["VIDEO_SERVICE_HOST": "::"]).host == "::")
    }

    @Test(arguments: ["999", "0", "-5", "4 s", "86400001"])
    func malformedLeaseIsAnErrorNamingTheVariable(_ value: String) {
        #expect {
            try VideoServiceSettings(environment: ["VIDEO_SERVICE_LEASE_MS": value])
        } throws: { error in
            let error = error as? ScaleKitError
            return error?.code == .invalidConfiguration && error?.message.contains("VIDEO_SERVICE_LEASE_MS=\(value)") == true
        }
    }

    @Test func malformedHostIsAnErrorNamingTheVariableWithoutItsControlCharacters() {
        #expect {
            try VideoServiceSettings(environment: ["VIDEO_SERVICE_HOST": "10.0.0.1\nforged log line"])
        } throws: { error in
            let message = (error as? ScaleKitError)?.message ?? ""
            return message.hasPrefix("VIDEO_SERVICE_HOST=") && !message.contains("\n")
        }
    }

    @Test func readsPortStageAndInstance() throws {
        let settings = try VideoServiceSettings(
            environment: ["PORT": "9001", "VIDEO_SERVICE_STAGE_MS": "5", "VIDEO_SERVICE_MAX_JOBS": "2", "VIDEO_SERVICE_INSTANCE": "a"])
        #expect(settings.port == 9001)
        #expect(settings.stageDuration == .milliseconds(5))
        #expect(settings.maxConcurrentJobs == 2)
        #expect(settings.instanceName == "a")
    }

    @Test(arguments: ["0", "65536", "eighty", "-1"])
    func malformedPortIsAnErrorNamingTheVariable(_ value: String) {
        #expect {
            try VideoServiceSettings(environment: ["PORT": value])
        } throws: { error in
            let error = error as? ScaleKitError
            return error?.code == .invalidConfiguration && error?.message.contains("PORT=\(value)") == true
        }
    }
}
