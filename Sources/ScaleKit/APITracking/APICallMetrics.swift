package import Metrics

/// The counters every ``APITracking`` backend records for each decision of
/// ``APITracking/checkAndCount(_:)`` and ``APITracking/reserve(_:holdFor:)``
/// (Docs/Operations.md lists them):
///
/// - `scalekit_api_calls_allowed_total{quota}`: calls allowed and counted
///   (a fail-open Redis tracker's uncounted calls included);
/// - `scalekit_api_calls_denied_total{quota, limit}`: calls refused, by the
///   limit that refused them (`day`, `hour`, or a named limit).
///
/// Each counts calls, not units: a call of cost 5 adds 1.
package struct APICallMetrics: Sendable {
    private let factory: any MetricsFactory

    package init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Counts one decision for `quota`.
    package func record(_ decision: QuotaDecision, quota: String) {
        if decision.isAllowed {
            Counter(label: "scalekit_api_calls_allowed_total", dimensions: [("quota", quota)], factory: factory).increment()
        } else {
            Counter(
                label: "scalekit_api_calls_denied_total", dimensions: [("quota", quota), ("limit", decision.deniedBy ?? "unknown")],
                factory: factory
            ).increment()
        }
    }
}
