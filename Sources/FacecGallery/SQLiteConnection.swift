import CSQLite
import FacecCore

/// SQLite's C API with its failures turned into FacecError (naming the
/// gallery file). One connection per thread of use.
final class SQLiteConnection {
    let path: String
    private(set) var handle: OpaquePointer?

    /// `create`: make the file when it is missing; otherwise a missing file is an error.
    init(path: String, create: Bool, readOnly: Bool = false) throws {
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0))
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        handle = db
        guard rc == SQLITE_OK else {
            let reason = rc == SQLITE_CANTOPEN ? (create ? "cannot create the gallery file" : "no such gallery (create it with 'facec gallery add')")
                                               : lastMessage(rc)
            close()
            throw FacecError(.gallery, path, reason)
        }
        // Writers wait for each other (another add, a checkpoint) instead of failing at once.
        sqlite3_busy_timeout(db, 10_000)
    }

    deinit { close() }

    func close() {
        if let h = handle { sqlite3_close_v2(h) }
        handle = nil
    }

    func lastMessage(_ rc: Int32) -> String {
        if let h = handle, let m = sqlite3_errmsg(h) { return String(cString: m) }
        return String(cString: sqlite3_errstr(rc))
    }

    func fail(_ rc: Int32, _ doing: String) -> FacecError {
        let msg = lastMessage(rc)
        if rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT {
            return FacecError(.gallery, path, "not a readable facec gallery (\(msg))")
        }
        return FacecError(.gallery, path, "\(doing) failed: \(msg)")
    }

    func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if let err { sqlite3_free(err) }
        guard rc == SQLITE_OK else { throw fail(rc, "SQL '\(sql.prefix(40))'") }
    }

    func prepare(_ sql: String) throws -> SQLiteStatement {
        var s: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &s, nil)
        guard rc == SQLITE_OK, let s else { throw fail(rc, "preparing '\(sql.prefix(40))'") }
        return SQLiteStatement(s, connection: self)
    }

    /// Runs `body` in one write transaction (BEGIN IMMEDIATE: the write lock is
    /// taken up front, so a concurrent writer waits rather than deadlocks);
    /// rolled back if it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let v = try body()
            try execute("COMMIT")
            return v
        } catch {
            _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            throw error
        }
    }

    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
}

/// A prepared statement: bind by 1-based index, step, read columns by 0-based index.
final class SQLiteStatement {
    private let statement: OpaquePointer
    private let connection: SQLiteConnection

    init(_ statement: OpaquePointer, connection: SQLiteConnection) {
        self.statement = statement
        self.connection = connection
    }

    deinit { sqlite3_finalize(statement) }

    // SQLITE_TRANSIENT: SQLite copies the bytes before bind returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    @discardableResult
    func bind(_ values: SQLiteValue...) throws -> SQLiteStatement {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        for (k, v) in values.enumerated() {
            let i = Int32(k + 1)
            let rc: Int32
            switch v {
            case .null: rc = sqlite3_bind_null(statement, i)
            case .int(let x): rc = sqlite3_bind_int64(statement, i, x)
            case .double(let x): rc = sqlite3_bind_double(statement, i, x)
            case .text(let s): rc = sqlite3_bind_text(statement, i, s, -1, Self.transient)
            case .blob(let b): rc = b.withUnsafeBytes { sqlite3_bind_blob(statement, i, $0.baseAddress, Int32($0.count), Self.transient) }
            }
            guard rc == SQLITE_OK else { throw connection.fail(rc, "binding a value") }
        }
        return self
    }

    /// true while a row is available.
    func step() throws -> Bool {
        let rc = sqlite3_step(statement)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw connection.fail(rc, "a query")
    }

    /// Runs a statement that returns no rows.
    func run() throws { while try step() {} }

    func int(_ i: Int32) -> Int64 { sqlite3_column_int64(statement, i) }
    func double(_ i: Int32) -> Double { sqlite3_column_double(statement, i) }
    func isNull(_ i: Int32) -> Bool { sqlite3_column_type(statement, i) == SQLITE_NULL }
    func text(_ i: Int32) -> String {
        guard let p = sqlite3_column_text(statement, i) else { return "" }
        return String(cString: p)
    }
    /// The column's bytes (valid until the next step), without copying.
    func blob(_ i: Int32) -> UnsafeRawBufferPointer {
        let p = sqlite3_column_blob(statement, i)
        let n = Int(sqlite3_column_bytes(statement, i))
        return UnsafeRawBufferPointer(start: p, count: p == nil ? 0 : n)
    }
}

enum SQLiteValue {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])
}
