import CLibPQ

/// Owns one `PGconn` and finishes it in `deinit`, with the `PGcancel`
/// (`PQgetCancel`) that asks the server to stop the statement it runs.
///
/// Not Sendable: only ``PostgresConnection`` holds it, and uses it on its
/// own serial executor (the cancel request too, see ``PostgresResultWait``).
final class PostgresConnectionHandle {
    let pointer: OpaquePointer
    private let canceller: OpaquePointer?

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
        self.canceller = PQgetCancel(pointer)
    }

    deinit {
        if let canceller { PQfreeCancel(canceller) }
        PQfinish(pointer)
    }

    /// Sends a cancel request for the statement in progress (`PQcancel`:
    /// a short connection of its own to the server, which blocks the
    /// calling thread until the server has passed the request on).
    /// Returns `false` when the request could not be sent.
    func sendCancel() -> Bool {
        guard let canceller else { return false }
        var message = [CChar](repeating: 0, count: 256)
        return PQcancel(canceller, &message, Int32(message.count)) == 1
    }
}

/// Owns one `PGresult` and clears it in `deinit`.
final class PostgresResult {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { PQclear(pointer) }

    var status: ExecStatusType { PQresultStatus(pointer) }

    /// Every row, as text (`nil` for SQL NULL), copied out of libpq.
    func rows() -> [PostgresRow] {
        let rowCount = PQntuples(pointer)
        let columnCount = PQnfields(pointer)
        var rows: [PostgresRow] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                if PQgetisnull(pointer, row, column) != 0 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(pointer, row, column))
                    let bytes = UnsafeRawPointer(PQgetvalue(pointer, row, column)!).assumingMemoryBound(to: UInt8.self)
                    values.append(String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self))
                }
            }
            rows.append(PostgresRow(values: values))
        }
        return rows
    }
}

/// One result row in text format (the connection's client encoding is UTF-8).
package struct PostgresRow: Sendable, Hashable {
    /// The columns in order; `nil` is SQL NULL.
    package var values: [String?]

    /// A row with these column values, in order (`nil`: SQL NULL).
    package init(values: [String?]) { self.values = values }

    /// The column's text, or `nil` for NULL.
    package subscript(_ column: Int) -> String? { values[column] }
}
