import Foundation
import Logging
import ScaleKit
import ScaleKitServices

// Builds the backends from the environment, claims and completes one video,
// counts one API call, and prints what it picked. With REDIS_URL or a
// postgresql:// DATABASE_URL set, this build refuses with `unsupported`
// (exit 69) instead of quietly using a backend other workers cannot see.
let logger = Logger(label: "embedded-only")
do {
    let configuration = try ScaleKitConfiguration.fromProcessEnvironment()
    try await ScaleKitBackends.withBackends(configuration, logger: logger) { backends in
        let claim = try await backends.videos.claimVideo(id: "embedded-\(UUID())", title: nil, originalURL: nil, lease: .seconds(60))
        guard let token = claim.token else { throw ScaleKitError(.conflict, "a new video was not ours to process") }
        try await backends.statusTracker.setStatus(JobStatus(state: .processing, progress: 0.5), for: claim.video.id, ttl: .seconds(60))
        try await backends.videos.completeVideo(id: claim.video.id, token: token)
        let decision = try await backends.apiTracker.checkAndCount()
        for choice in backends.choices { print("\(choice.primitive): \(choice.backend)") }
        print("claim: \(claim.outcome), api call allowed: \(decision.isAllowed)")
    }
} catch let error as ScaleKitError {
    print("error: \(error)")
    exit(error.code == .unsupported ? 69 : 1)
}
