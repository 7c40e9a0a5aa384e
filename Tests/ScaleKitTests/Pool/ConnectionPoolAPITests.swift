import ScaleKit
import Testing

/// The public API as pool-api.md states it, used the way backends use it.
@Suite struct ConnectionPoolAPITests {
    /// A backend-style actor holding non-Sendable state that it touches
    /// inside `withConnection`: the body runs in the actor's isolation.
    actor Tracker {
        let pool: ConnectionPool<MockConnection>
        var log: [String] = []

        init(pool: ConnectionPool<MockConnection>) { self.pool = pool }

        func record(_ event: String) async throws -> Int {
            try await pool.withConnection { connection in
                log.append("\(event) on \(connection)")
                return log.count
            }
        }
    }

    @Test func initializerAsDocumentedAndUseFromAnActor() async throws {
        let factory = MockConnectionFactory()
        // Exactly the documented parameters: the clock and metrics default.
        let pool = ConnectionPool(
            configuration: ConnectionPoolConfiguration(size: 3, maxOverflow: 1),
            name: "scalekit.api", logger: PoolFixture.quietLogger
        ) {
            try await factory.make()
        }
        #expect(pool.configuration.size == 3 && pool.configuration.maxOverflow == 1)
        #expect(pool.configuration.timeout == .seconds(30) && pool.configuration.recycle == .seconds(3600))
        let tracker = Tracker(pool: pool)
        #expect(try await tracker.record("a") == 1)
        #expect(try await tracker.record("b") == 2)
        #expect(await tracker.log == ["a on mock#0", "b on mock#0"])
        let statistics = pool.statistics()
        #expect(statistics.size == 3 && statistics.checkedIn == 1 && statistics.overflow == 0)
        await pool.shutdown()
        #expect(pool.statistics() == ConnectionPoolStatistics(size: 3, created: 1, closed: 1))
    }

    @Test func statisticsDescriptionNamesEveryFigure() {
        let statistics = ConnectionPoolStatistics(size: 2, checkedIn: 1, checkedOut: 3, waiters: 4, created: 5)
        #expect(statistics.overflow == 2)
        #expect(
            statistics.description
                == "size=2 checked_in=1 checked_out=3 overflow=2 opening=0 closing=0 waiters=4 created=5 closed=0 timeouts=0")
    }
}
