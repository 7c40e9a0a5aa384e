import Foundation
import ScaleKit

/// Owns one ``SQLiteConnection`` and runs every use of it on a dedicated
/// serial dispatch queue, so SQLite's blocking calls never occupy a thread of
/// Swift's cooperative pool and the connection is never used by two callers
/// at once.
actor SQLiteDatabase {
    private let executor: DispatchQueueExecutor
    private let path: String
    private let busyTimeout: Duration
    private var connection: SQLiteConnection?

    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Does no I/O; ``open()`` opens the file on the database's own queue.
    init(path: String, busyTimeout: Duration) {
        self.path = path
        self.busyTimeout = busyTimeout
        self.executor = DispatchQueueExecutor(label: "scalekit.sqlite")
    }

    /// Opens the file (WAL mode, busy timeout) if it is not open yet.
    func open() throws(ScaleKitError) {
        if connection == nil {
            connection = try SQLiteConnection(path: path, busyTimeout: busyTimeout)
        }
    }

    /// Runs `body` with the connection, on the database's queue.
    func withConnection<T: Sendable>(
        _ body: @Sendable (SQLiteConnection) throws(ScaleKitError) -> T
    ) throws(ScaleKitError) -> T {
        guard let connection else {
            throw ScaleKitError(.poolShutDown, "the SQLite database at \(path) is closed")
        }
        return try body(connection)
    }

    /// Closes the connection; later calls throw ``/ScaleKit/ScaleKitError/Code/poolShutDown``.
    func close() {
        connection = nil
    }
}
