import ScaleKit
import Testing

struct ReceiptIDTests {
    /// 8 tasks × 20 000 ids: all distinct, all in the UUID layout a receipt accepts.
    @Test func idsAreUniqueAcrossTasksAndValidInAReceipt() async throws {
        let ids = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<8 { group.addTask { (0..<20_000).map { _ in QuotaReceipt.makeID() } } }
            var all: [String] = []
            for await batch in group { all += batch }
            return all
        }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(1000) {
            #expect(id.utf8.count == 36 && id.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12], "\(id)")
            try QuotaReceipt(id: id, quota: Quota.defaultName, key: nil, cost: 1, calendarAt: 0, rollingAt: 0).validate()
        }
    }
}
