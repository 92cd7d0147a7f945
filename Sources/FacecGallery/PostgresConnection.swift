import CLibPQ
import FacecCore
#if canImport(Glibc)
import Glibc
#endif

/// libpq with its failures turned into FacecError. `location` is the URL
/// without its password (messages must not leak it).
final class PostgresConnection {
    let location: String
    private var conn: OpaquePointer?

    init(url: String) throws {
        location = Self.redacted(url)
        // connect_timeout: a server that is gone must not hang a run.
        let withTimeout = url.contains("connect_timeout=") ? url : url + (url.contains("?") ? "&" : "?") + "connect_timeout=10"
        conn = PQconnectdb(withTimeout)
        guard let c = conn, PQstatus(c) == CONNECTION_OK else {
            let why = conn.map { Self.firstLine(String(cString: PQerrorMessage($0))) } ?? "out of memory"
            close()
            throw FacecError(.gallery, location, "cannot connect to PostgreSQL: \(why)")
        }
        // Warnings (NOTICE: relation exists...) are not the user's business.
        _ = try? query("SET client_min_messages = warning")
    }

    deinit { close() }

    func close() {
        if let c = conn { PQfinish(c) }
        conn = nil
    }

    /// Rows of text values (nil for NULL). Parameters are sent as text.
    @discardableResult
    func query(_ sql: String, _ params: [String?] = []) throws -> [[String?]] {
        guard let c = conn else { throw FacecError(.gallery, location, "the connection is closed") }
        let cStrings = params.map { $0.map { strdup($0) } ?? nil }
        defer { cStrings.forEach { free($0) } }
        // Without parameters: the simple protocol, which also takes several statements.
        let result: OpaquePointer? = params.isEmpty ? PQexec(c, sql) : cStrings.withUnsafeBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(1, p.count)) { values in
                PQexecParams(c, sql, Int32(params.count), nil, params.isEmpty ? nil : values, nil, nil, 0)
            }
        }
        guard let r = result else { throw FacecError(.gallery, location, "PostgreSQL: \(Self.firstLine(String(cString: PQerrorMessage(c))))") }
        defer { PQclear(r) }
        let status = PQresultStatus(r)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            var why = Self.firstLine(String(cString: PQresultErrorMessage(r)))
            if PQstatus(c) != CONNECTION_OK { why = "the server went away (\(why))" }
            throw FacecError(.gallery, location, "PostgreSQL: \(why)")
        }
        let rows = Int(PQntuples(r)), cols = Int(PQnfields(r))
        var out: [[String?]] = []
        out.reserveCapacity(rows)
        for i in 0..<rows {
            out.append((0..<cols).map { j in
                PQgetisnull(r, Int32(i), Int32(j)) != 0 ? nil : String(cString: PQgetvalue(r, Int32(i), Int32(j)))
            })
        }
        return out
    }

    func transaction<T>(_ body: () throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let v = try body()
            try query("COMMIT")
            return v
        } catch {
            _ = try? query("ROLLBACK")
            throw error
        }
    }

    static func firstLine(_ s: String) -> String {
        let t = s.split(separator: "\n").first.map(String.init) ?? s
        return t.trimmingSpaces.isEmpty ? "unknown error" : t.trimmingSpaces
    }

    /// postgresql://user:secret@host/db -> postgresql://user@host/db
    static func redacted(_ url: String) -> String {
        let chars = Array(url)
        guard let scheme = (0..<max(0, chars.count - 2)).first(where: { chars[$0] == ":" && chars[$0 + 1] == "/" && chars[$0 + 2] == "/" }) else { return url }
        let start = scheme + 3
        guard let at = chars[start...].firstIndex(of: "@"), let colon = chars[start..<at].firstIndex(of: ":") else { return url }
        return String(chars[..<colon]) + String(chars[at...])
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}
