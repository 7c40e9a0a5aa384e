import Foundation
import ScaleKit

/// `POST /api/process` answer.
struct ProcessResponse: Encodable {
    var videoID: String
    /// `true` when another request is already processing the video (the seed's flag).
    var alreadyProcessing: Bool
    /// `true` when the video was processed before; `status` has its result.
    var alreadyCompleted: Bool
    /// What the claim decided: created, retrying_failed, took_over_expired_lease,
    /// claimed_pending, already_processing, already_completed, retry_not_due
    /// (a failed video in its backoff), abandoned (out of attempts).
    var outcome: String
    /// The job's current status object (as `GET /api/status/{id}` returns it).
    var status: JSONValue
    var statusURL: String

    enum CodingKeys: String, CodingKey {
        case videoID = "video_id"
        case alreadyProcessing = "already_processing"
        case alreadyCompleted = "already_completed"
        case outcome, status
        case statusURL = "status_url"
    }
}

extension ClaimOutcome {
    /// The outcome as the API spells it.
    var apiName: String {
        switch self {
        case .created: return "created"
        case .retryingFailed: return "retrying_failed"
        case .tookOverExpiredLease: return "took_over_expired_lease"
        case .alreadyProcessing: return "already_processing"
        case .alreadyCompleted: return "already_completed"
        case .claimedPending: return "claimed_pending"
        case .retryNotDue: return "retry_not_due"
        case .abandoned: return "abandoned"
        }
    }
}

/// `GET /api/usage` answer: the shared counters of the external API.
struct UsageResponse: Encodable {
    var usage: APIUsage
    var backend: String

    enum CodingKeys: String, CodingKey {
        case dayCount = "day_count", hourCount = "hour_count"
        case dailyLimit = "daily_limit", hourlyLimit = "hourly_limit"
        case remaining, remainingToday = "remaining_today", remainingThisHour = "remaining_this_hour"
        case totalCalls = "total_calls", successes, failures, denied
        case dayResetsAt = "day_resets_at", hourResetsAt = "hour_resets_at"
        case backend
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(usage.dayCount, forKey: .dayCount)
        try container.encode(usage.hourCount, forKey: .hourCount)
        try container.encode(usage.limits.daily, forKey: .dailyLimit)
        try container.encode(usage.limits.hourly, forKey: .hourlyLimit)
        try container.encode(usage.remaining, forKey: .remaining)
        try container.encode(usage.remainingToday, forKey: .remainingToday)
        try container.encode(usage.remainingThisHour, forKey: .remainingThisHour)
        try container.encode(usage.totalCalls, forKey: .totalCalls)
        try container.encode(usage.successes, forKey: .successes)
        try container.encode(usage.failures, forKey: .failures)
        try container.encode(usage.denied, forKey: .denied)
        try container.encode(JobStatus.formatTimestamp(usage.dayResetsAt), forKey: .dayResetsAt)
        try container.encode(JobStatus.formatTimestamp(usage.hourResetsAt), forKey: .hourResetsAt)
        try container.encode(backend, forKey: .backend)
    }
}

/// `GET /health` answer.
struct HealthResponse: Encodable {
    struct Check: Encodable {
        var name: String
        var healthy: Bool
        var error: String?
        var milliseconds: Int
    }

    struct Backend: Encodable {
        var primitive: String
        var backend: String
        var distributed: Bool
        var location: String
    }

    /// `healthy` or `unhealthy`.
    var status: String
    var instance: String
    var checks: [Check]
    var backends: [Backend]
}
