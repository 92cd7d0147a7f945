import Foundation
import Testing
@testable import FacecGallery

/// Where the gallery tests keep their gallery: an embedded SQLite file, or a
/// fresh database on a real PostgreSQL with pgvector (scripts/pgvector-server.sh,
/// which .ci/run installs). The same tests run on both.
enum GalleryBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case embedded, postgres

    var testDescription: String { rawValue }

    /// The backends this machine can run: PostgreSQL when its server package is installed.
    static var available: [GalleryBackend] { PostgresTestServer.installed ? [.embedded, .postgres] : [.embedded] }

    /// A new, empty gallery location.
    func newGallery(in dir: TempDir, name: String = "gallery") throws -> String {
        switch self {
        case .embedded: return dir.path("\(name).db")
        case .postgres: return try PostgresTestServer.shared.newDatabase()
        }
    }
}

/// One PostgreSQL server for the whole test run (started on first use, as an
/// unprivileged user when the tests run as root; stopped when the process exits).
final class PostgresTestServer: @unchecked Sendable {
    static let script = TestPaths.repo.appendingPathComponent("scripts/pgvector-server.sh").path
    static var venv: String { ProcessInfo.processInfo.environment["FACEC_PG_VENV"] ?? "/root/.cache/facec-pg-venv" }
    static var installed: Bool { FileManager.default.fileExists(atPath: venv + "/bin/python") }

    static let shared: PostgresTestServer = {
        let s = PostgresTestServer()
        atexit { PostgresTestServer.stopShared() }
        return s
    }()
    private static let dataDirs = Locked<[String]>([])

    let url: String
    let dataDir: String
    private let counter = Locked(0)

    init() {
        (url, dataDir) = try! Self.start()
    }

    /// Starts a server in a new data directory; returns its URL.
    static func start() throws -> (url: String, dataDir: String) {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("facec-pg-\(UUID().uuidString)").path
        let r = try runProgram("/bin/bash", [script, "start", dataDir])
        guard r.status == 0 else { throw GalleryError(dataDir, "pgvector-server.sh start failed: \(r.stderr)") }
        dataDirs.update { $0.append(dataDir) }
        return (r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), dataDir)
    }

    static func stop(_ dataDir: String) {
        _ = try? runProgram("/bin/bash", [script, "stop", dataDir])
    }

    static func stopShared() {
        for d in dataDirs.value { stop(d); try? FileManager.default.removeItem(atPath: d) }
    }

    /// A fresh database on the server (one per test): its URL.
    func newDatabase() throws -> String {
        let n = counter.update { $0 += 1; return $0 }
        let name = "facec_test_\(getpid())_\(n)"
        try PostgresConnection(url: url).query("CREATE DATABASE \(name)")
        return Self.replacingDatabase(in: url, with: name)
    }

    static func replacingDatabase(in url: String, with name: String) -> String {
        let base = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
        guard let slash = base.lastIndex(of: "/") else { return url }
        return String(base[...slash]) + name
    }
}

/// A value behind a lock.
final class Locked<T>: @unchecked Sendable {
    private var v: T
    private let lock = NSLock()
    init(_ v: T) { self.v = v }
    var value: T { lock.lock(); defer { lock.unlock() }; return v }
    @discardableResult func update<R>(_ body: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&v) }
}
