import Foundation
import FacecCore
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
    /// The venv scripts/pgvector-server.sh installs into (same default as the script).
    static var venv: String {
        let env = ProcessInfo.processInfo.environment
        if let v = env["FACEC_PG_VENV"] { return v }
        return (getuid() == 0 ? "/root" : env["HOME"] ?? "/root") + "/.cache/facec-pg-venv"
    }
    /// True when `scripts/pgvector-server.sh install` has run on this machine.
    static var installed: Bool { FileManager.default.fileExists(atPath: venv + "/bin/python") }
    /// CI sets FACEC_PG_REQUIRED=1 so a failed install fails the run instead of skipping PostgreSQL.
    static var required: Bool { ProcessInfo.processInfo.environment["FACEC_PG_REQUIRED"] == "1" }

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
        let r = spawnWaiting(["/bin/bash", script, "start", dataDir])
        guard r.status == 0 else { throw FacecError(.gallery, dataDir, "pgvector-server.sh start failed (status \(r.status)): \(r.output)") }
        dataDirs.update { $0.append(dataDir) }
        return (r.output.split(separator: "\n").last.map(String.init) ?? "", dataDir)
    }

    static func stop(_ dataDir: String) {
        _ = spawnWaiting(["/bin/bash", script, "stop", dataDir])
    }

    /// posix_spawn + waitpid, output through a file: Foundation's Process
    /// waited forever here (the script exited, a zombie never reaped, when
    /// several tests spawned at once).
    static func spawnWaiting(_ argv: [String]) -> (status: Int32, output: String) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("facec-pg-out-\(UUID().uuidString)").path
        defer { unlink(out) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid = pid_t()
        guard posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ) == 0 else { return (-1, "cannot start \(argv[0])") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : -1, text)
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
