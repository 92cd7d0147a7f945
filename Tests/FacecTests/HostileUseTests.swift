import FacecCore
import Foundation
import Testing
import FGraphSchema
@testable import FacecFormat
@testable import FacecKernels
@testable import FacecRuntime
import FacecPipeline

/// Issue 21's defects, each as a regression test: outputs that are devices,
/// FIFOs, links or inputs; thread creation that fails; symbolic link loops;
/// a model file replaced while in use; semantically hostile models; two
/// processes creating one gallery; and the smaller ones (non-regular
/// inputs, numbers and repeated options, the C API's misuse).
/// (scripts/hostile-check.sh runs the cases that need a pids-limited cgroup
/// or a full file system, where the machine allows them.)
@Suite(.serialized) struct HostileUseTests {
    static let face = TestPaths.repo.appendingPathComponent("Weights/demo-face.jpg").path
    static let couple = TestPaths.repo.appendingPathComponent("Weights/demo-couple.jpg").path
    static var model: String { DetectionCLITests.model }
    static var isRoot: Bool { geteuid() == 0 }

    static func kind(_ path: String) -> FileKind? {
        var st = stat()
        return lstat(path, &st) == 0 ? FileKind(mode: st.st_mode) : nil
    }

    static func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// A character device like /dev/null (1,3) or /dev/full (1,7), in a test directory.
    static func device(_ path: String, minor: Int32) -> Bool {
        mknod(path, S_IFCHR | 0o666, makedev(1, UInt32(minor))) == 0
    }

    static func makedev(_ major: UInt32, _ minor: UInt32) -> dev_t {
        // In steps: one expression of literals is too much for Swift 6.0's type checker.
        let high: UInt32 = (major & 0xfff) << 8
        let low: UInt32 = minor & 0xff
        let rest: UInt32 = (minor & ~0xff) << 12
        return dev_t(high | low | rest)
    }

    /// The pairs file and its photos, for `verify --pairs`.
    static func pairsFile(_ dir: TempDir) throws -> String {
        let csv = dir.path("pairs.csv")
        guard !FileManager.default.fileExists(atPath: csv) else { return csv }
        try FileManager.default.copyItem(atPath: face, toPath: dir.path("a.jpg"))
        try FileManager.default.copyItem(atPath: couple, toPath: dir.path("b.jpg"))
        try "file_x,file_y\na.jpg,b.jpg\n".write(toFile: csv, atomically: true, encoding: .utf8)
        return csv
    }

    /// Every writer's output argument, pointed at `target`.
    static func writers(_ dir: TempDir, target: String) throws -> [(name: String, program: String, args: [String])] {
        let pairs = try pairsFile(dir)
        return [
            ("run --npy", TestPaths.facecBinary, ["run", model, face, "--npy", target]),
            ("verify --pairs -o", TestPaths.facecBinary, ["verify", model, "--pairs", pairs, "-o", target]),
            ("facec-run run --npy", TestPaths.binary("facec-run"), ["run", model, face, "--npy", target]),
        ]
    }

    // MARK: 1. Writers never replace devices, FIFOs or links

    @Test(.enabled(if: isRoot, "mknod needs root")) func charactersDevicesAreWrittenThroughNeverReplaced() throws {
        let dir = TempDir()
        let null = dir.path("null"), full = dir.path("full")
        try #require(Self.device(null, minor: 3) && Self.device(full, minor: 7))
        for w in try Self.writers(dir, target: null) {
            let r = try runProgram(w.program, w.args)
            #expect(r.status == 0, "\(w.name): \(r.stderr)")
            #expect(Self.kind(null) == .characterDevice, "\(w.name) replaced the device")
        }
        for w in try Self.writers(dir, target: full) {
            let r = try runProgram(w.program, w.args)
            #expect(r.status == 1 && r.stderr.contains("full: write failed: No space left on device"), "\(w.name): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(w.name): \(r.stderr)")
            #expect(Self.kind(full) == .characterDevice, "\(w.name) replaced the device")
        }
        // A crop path that is a device is written through too.
        let crops = dir.path("crops")
        try FileManager.default.createDirectory(atPath: crops, withIntermediateDirectories: true)
        try #require(Self.device(crops + "/demo-face_face0.png", minor: 3))
        #expect(try facec(["detect", Self.model, Self.face, "--crops", crops]).status == 0)
        #expect(Self.kind(crops + "/demo-face_face0.png") == .characterDevice)
        // A model is written with seeks: a device is refused, and left alone.
        expectFailure(try facec(["convert", TestPaths.demoWeights, "-o", null]), mentioning: "is a character device; a model is written as a regular file")
        #expect(Self.kind(null) == .characterDevice)
    }

    @Test func fifoOutputsReachTheirReader() throws {
        let dir = TempDir()
        let fifo = dir.path("out.fifo")
        for w in try Self.writers(dir, target: fifo) {
            unlink(fifo)
            try #require(mkfifo(fifo, 0o644) == 0)
            let got = Locked(Data())
            let reader = Thread {
                let fd = open(fifo, O_RDONLY)   // waits for the writer, as a shell's reader does
                var chunk = [UInt8](repeating: 0, count: 65536)
                while fd >= 0 {
                    let n = read(fd, &chunk, chunk.count)
                    if n <= 0 { break }
                    got.update { $0.append(contentsOf: chunk[0..<n]) }
                }
                close(fd)
            }
            reader.start()
            let r = try runProgram(w.program, w.args, timeout: 60)
            while !reader.isFinished { usleep(1000) }
            #expect(r.status == 0, "\(w.name): \(r.stderr)")
            #expect(got.value.count > 10, "\(w.name): the reader got \(got.value.count) bytes")
            #expect(Self.kind(fifo) == .fifo, "\(w.name) replaced the FIFO")
        }
    }

    @Test func symbolicLinksAreFollowedAndKeepTheTargetsMode() throws {
        let dir = TempDir()
        let secret = dir.path("secret.out"), link = dir.path("link.out")
        for w in try Self.writers(dir, target: link) {
            unlink(secret); unlink(link)
            try "old".write(toFile: secret, atomically: false, encoding: .utf8)
            chmod(secret, 0o600)
            try #require(symlink(secret, link) == 0)
            let r = try runProgram(w.program, w.args)
            #expect(r.status == 0, "\(w.name): \(r.stderr)")
            #expect(Self.kind(link) == .symbolicLink, "\(w.name) replaced the link")
            var st = stat()
            #expect(stat(secret, &st) == 0 && st.st_mode & 0o777 == 0o600, "\(w.name): mode \(String(st.st_mode & 0o777, radix: 8))")
            #expect(Self.bytes(secret).map { $0.count > 10 } == true, "\(w.name) did not write through the link")
        }
        // A link to nothing could point anywhere: refused, nothing created.
        let dangling = dir.path("dangling.out"), nowhere = dir.path("nowhere/x")
        try #require(symlink(nowhere, dangling) == 0)
        expectFailure(try facec(["run", Self.model, Self.face, "--npy", dangling]), mentioning: "is a symbolic link to a missing file")
        #expect(Self.kind(dangling) == .symbolicLink)
        expectFailure(try facec(["run", Self.model, Self.face, "--npy", dir.path(".")]), mentioning: "is a directory")
        // A missing directory is found before any work.
        let pairsDir = TempDir()
        let pairs = try Self.pairsFile(pairsDir)
        let missing = try facec(["verify", Self.model, "--pairs", pairs, "-o", dir.path("no/such/dir/x.csv")])
        expectFailure(missing, mentioning: "does not exist")
        #expect(missing.stdout.isEmpty)
    }

    // MARK: 2. An output that is an input is refused before any work

    @Test func outputsThatAreInputsAreRefused() throws {
        let dir = TempDir()
        let a = dir.path("a.jpg"), b = dir.path("b.jpg"), m = dir.path("m.fgraph"), src = dir.path("src.h5")
        for (from, to) in [(Self.face, a), (Self.couple, b), (Self.model, m), (TestPaths.demoWeights, src)] {
            try FileManager.default.copyItem(atPath: from, toPath: to)
        }
        link(b, dir.path("b-hardlink.npy"))
        let pairsDir = TempDir()
        let pairs = try Self.pairsFile(pairsDir)
        let before = [a, b, m, src, pairs].map(Self.bytes)
        let cases: [(args: [String], victim: String)] = [
            (["run", m, a, b, "--npy", b], b),
            (["run", m, a, "--npy", m], m),
            (["run", m, a, b, "--npy", dir.path("b-hardlink.npy")], "b-hardlink.npy"),
            (["convert", src, "-o", src], src),
            (["verify", m, "--pairs", pairs, "-o", pairs], pairs),
        ]
        for c in cases {
            let r = try facec(c.args)
            expectFailure(r, mentioning: "is also an input of this command")
            #expect(r.stderr.contains(c.victim))
        }
        expectFailure(try facec(["gallery", "add", m, a, b, a]), mentioning: "is also an input of this command")
        // A crop would overwrite a photo given after it.
        let crops = dir.path("crops")
        try FileManager.default.createDirectory(atPath: crops, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.face, toPath: crops + "/a_face0.png")
        expectFailure(try facec(["detect", m, a, crops + "/a_face0.png", "--crops", crops]), mentioning: "where a crop would be written")
        #expect([a, b, m, src, pairs].map(Self.bytes) == before, "an input was changed")
        #expect(Self.bytes(crops + "/a_face0.png") == Self.bytes(Self.face))
    }

    // MARK: 3. Thread creation that fails

    /// Creates `allowed` threads, then fails as a pids limit does.
    static func creator(allowing allowed: Int) -> Threads.Create {
        let left = Locked(allowed)
        return { thread, start, argument in
            let ok = left.update { n -> Bool in
                guard n > 0 else { return false }
                n -= 1
                return true
            }
            return ok ? pthread_create(thread, nil, start, argument) : EAGAIN
        }
    }

    @Test func workersThatCannotBeCreatedAreDoneWithout() throws {
        for allowed in [0, 1, 3] {
            let pool = WorkerPool(threads: 8, create: Self.creator(allowing: allowed))
            #expect(pool.threads == 1 + allowed)
            let seen = Locked([Int](repeating: 0, count: 500))
            pool.parallelFor(500) { i in seen.update { $0[i] += 1 } }
            #expect(seen.value.allSatisfy { $0 == 1 })
            pool.shutdown()

            let ran = Threads.parallelFor(iterations: 200, threads: 8, create: Self.creator(allowing: allowed)) { i in seen.update { $0[i] += 1 } }
            #expect(ran == 1 + allowed)
            #expect(seen.value[0..<200].allSatisfy { $0 == 2 })

            var order: [Int] = []
            ParallelInOrder.run(count: 50, threads: 4, create: Self.creator(allowing: allowed), state: { () }, work: { i, _ in i * i }) { i, v in
                order.append(v)
                #expect(v == i * i)
            }
            #expect(order.count == 50)
        }
    }

    @Test func threadCountsAreBounded() throws {
        for bad in ["100000", "0", "-1", "1025"] {
            let r = try facec(["bench", Self.model, "--threads", bad])
            #expect(r.status == 64 && r.stderr.contains("--threads must be 1 to 1024"), "\(bad): \(r.stderr)")
        }
    }

    // MARK: 4. Symbolic link loops in gallery folders

    @Test func galleryFoldersWithLinkLoopsAreWalkedOnce() throws {
        let dir = TempDir()
        let people = dir.path("people")
        for (person, photo) in [("x", Self.face), ("y", Self.couple)] {
            try FileManager.default.createDirectory(atPath: people + "/" + person, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: photo, toPath: people + "/\(person)/photo.jpg")
        }
        #expect(symlink("..", people + "/x/up") == 0)          // back to people/
        #expect(symlink("../x", people + "/y/sideways") == 0)  // to a folder walked anyway
        #expect(symlink(".", people + "/y/self") == 0)
        let r = try runProgram(TestPaths.facecBinary, ["gallery", "add", Self.model, dir.path("g.db"), people], timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let list = try facec(["gallery", "list", dir.path("g.db")])
        #expect(list.stdout.split(separator: "\n").count == 2, "\(list.stdout)")
    }

    // MARK: 5. A model file replaced while it is used

    @Test func modelsDoNotChangeWhenTheirFileIsReplacedInPlace() throws {
        let dir = TempDir()
        let path = dir.path("live.fgraph")
        try FileManager.default.copyItem(atPath: Self.model, toPath: path)
        let loaded = try Model(path: path)
        let instance = loaded.makeInstance()
        let input = (0..<loaded.inputCount).map { Float($0 % 97) / 97 }
        let before = try instance.embed(input)
        // `cp new live` truncates and rewrites the same inode: a mapped model
        // died of SIGBUS here, or ran on whatever the new bytes were.
        let fd = open(path, O_WRONLY | O_TRUNC)
        try #require(fd >= 0)
        _ = [UInt8](repeating: 0x5A, count: 4096).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect(try instance.embed(input) == before)
        #expect(try loaded.makeInstance().embed(input) == before)
    }

    // MARK: 6. Semantically hostile models that pass the checksums

    /// `model` with its header (and data) edited, checksums recomputed.
    static func edited(_ source: String, to out: String, _ edit: ((UnsafeMutablePointer<Fgraph__Header>) -> Void)? = nil,
                       data: ((inout [UInt8], ModelHeader) -> Void)? = nil, preamble: ((inout [UInt8]) -> Void)? = nil) throws {
        var raw = try #require(RawModelFile(Array(try Data(contentsOf: URL(fileURLWithPath: source)))))
        if let edit {
            let decoded = raw.editHeader(edit)
            #expect(decoded)
        }
        if let data { data(&raw.data, try ModelFile(path: source, readData: false).header) }
        preamble?(&raw.preamble)
        try Data(raw.sealed()).write(to: URL(fileURLWithPath: out))
    }

    @Test func hostileModelsAreRefusedAtLoad() throws {
        let dir = TempDir()
        let int8 = dir.path("int8.fgraph")
        #expect(try facec(["convert", TestPaths.demoWeights, "--weights", "int8", "-o", int8, "--quiet"]).status == 0)
        let out = dir.path("hostile.fgraph")
        func refused(_ text: String, from source: String = Self.model, _ edit: ((UnsafeMutablePointer<Fgraph__Header>) -> Void)? = nil,
                     data: ((inout [UInt8], ModelHeader) -> Void)? = nil, preamble: ((inout [UInt8]) -> Void)? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
            try Self.edited(source, to: out, edit, data: data, preamble: preamble)
            for args in [["run", out, Self.face], ["inspect", out], ["check", out], ["bench", out, "--runs", "1"]] {
                let r = try facec(args)
                expectFailure(r, mentioning: text, sourceLocation: sourceLocation)
            }
            let edge = try runProgram(TestPaths.binary("facec-run"), ["run", out, Self.face])
            #expect(edge.status == 1 && edge.stderr.contains(text), "\(edge.stderr)", sourceLocation: sourceLocation)
        }
        func setFloat(_ data: inout [UInt8], at offset: Int, _ v: Float) {
            for k in 0..<4 { data[offset + k] = UInt8(truncatingIfNeeded: v.bitPattern >> (8 * k)) }
        }
        try refused("claims 18446744073709551615 FLOPs") { $0.pointee.nodes[0]!.pointee.flops = UInt64.max }
        try refused("its shapes make") { $0.pointee.nodes[0]!.pointee.flops += 2 }
        try refused("is larger than its values need") { $0.pointee.arena_bytes = 1 << 31 }
        try refused("arena bytes for") { $0.pointee.values[1]!.pointee.arena_bytes += 64 }
        try refused("before it is written") { h in
            var nodes = UnsafeMutableBufferPointer(start: h.pointee.nodes, count: h.pointee.n_nodes)
            nodes.reverse()
        }
        try refused("holds a NaN or infinite value", data: { d, h in setFloat(&d, at: h.tensors[0].offset + 8, .nan) })
        try refused("holds a NaN or infinite value", data: { d, h in setFloat(&d, at: h.tensors[1].offset, .infinity) })
        try refused("holds a NaN or infinite value", from: int8, data: { d, h in
            let scales = h.nodes.first { $0.params.count == 3 }!.params[2]
            setFloat(&d, at: h.tensors[scales].offset, .infinity)
        })
        try refused("is not a finite non-negative number") { $0.pointee.thresholds[0]!.pointee.value = -0.5 }
        try refused("reserved preamble fields are not zero", preamble: { $0[12] = 1 })
        try refused("reserved preamble fields are not zero", preamble: { $0[63] = 1 })
        try refused("the model name holds the control character U+000A") { $0.pointee.model_name[2] = 0x0A }
        try refused("holds the control character U+001B") { $0.pointee.nodes[3]!.pointee.name[0] = 0x1B }
    }

    @Test func weightsThatOverflowGiveAnErrorNotNulls() throws {
        let dir = TempDir()
        let out = dir.path("huge.fgraph")
        try Self.edited(Self.model, to: out, data: { d, h in
            // Every weight of the last dense layer at 1e38: finite, but the sums overflow.
            let last = h.nodes.last { $0.kernel == .dense }!
            let t = h.tensors[last.params[0]]
            for i in 0..<t.elementCount { for (k, b) in withUnsafeBytes(of: Float(1e38).bitPattern.littleEndian, Array.init).enumerated() { d[t.offset + 4 * i + k] = b } }
        })
        #expect(try facec(["check", out]).status == 0)
        expectFailure(try facec(["run", out, Self.face]), mentioning: "the network's output is not finite")
        expectFailure(try facec(["verify", out, Self.face, Self.couple]), mentioning: "the network's output is not finite")
        expectFailure(try facec(["bench", out, "--runs", "1"]), mentioning: "the network's output is not finite")
    }

    // MARK: 7. Two processes creating one gallery

    @Test func twoAddsCreatingOneGalleryBothSucceed() throws {
        let dir = TempDir()
        for trial in 0..<5 {
            let gallery = dir.path("g\(trial).db")
            let ps = [Self.face, Self.couple].map { photo -> (Process, Pipe) in
                let p = Process(), err = Pipe()
                p.executableURL = URL(fileURLWithPath: TestPaths.facecBinary)
                p.arguments = ["gallery", "add", Self.model, gallery, photo]
                p.standardOutput = FileHandle.nullDevice
                p.standardError = err
                return (p, err)
            }
            for (p, _) in ps { try p.run() }
            for (p, err) in ps {
                p.waitUntilExit()
                let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                #expect(p.terminationStatus == 0, "trial \(trial): \(text)")
            }
            let list = try facec(["gallery", "list", gallery])
            #expect(list.stdout.split(separator: "\n").count == 2, "trial \(trial): \(list.stdout) \(list.stderr)")
        }
    }

    // MARK: 8. Non-regular inputs, numbers, repeated options

    @Test func nonRegularInputsAreRefusedAtOnce() throws {
        let dir = TempDir()
        let fifo = dir.path("photo.jpg")
        try #require(mkfifo(fifo, 0o644) == 0)
        // No writer ever opens the FIFO: reading it would block forever.
        for args in [["run", Self.model, fifo], ["detect", Self.model, fifo], ["run", fifo, Self.face], ["check", fifo],
                     ["verify", Self.model, "--pairs", fifo], ["convert", fifo]] {
            let r = try runProgram(TestPaths.facecBinary, args, timeout: 30)
            expectFailure(r, mentioning: "FIFO")
        }
        let zero = try runProgram(TestPaths.facecBinary, ["run", Self.model, "/dev/zero"], timeout: 30)
        expectFailure(zero, mentioning: "/dev/zero: is a character device, not a regular file")
    }

    @Test func numbersAreDecimalAndOptionsAreGivenOnce() throws {
        for (args, text) in [(["--threshold", "0x10"], "is not a decimal number"), (["--threshold", "inf"], "is not a decimal number"),
                             (["--threshold", "1e999"], "is not a decimal number"), (["--metric", "cosine", "--metric", "euclidean"], "--metric is given more than once")] {
            let r = try facec(["verify", Self.model, Self.face, Self.couple] + args)
            #expect(r.status == 64 && r.stderr.contains(text), "\(args): \(r.stderr)")
        }
        let twice = try facec(["detect", Self.model, Self.face, "--json", "--json"])
        #expect(twice.status == 64 && twice.stderr.contains("--json is given more than once"), "\(twice.stderr)")
        #expect(try facec(["verify", Self.model, Self.face, Self.couple, "--threshold", "+1.5e-1"]).status == 0)
    }

    @Test func cAPIRefusesMisuseWithoutCrashing() throws {
        let dir = TempDir()
        let fifo = dir.path("photo.fifo")
        try #require(mkfifo(fifo, 0o644) == 0)
        let source = dir.path("misuse.c")
        try """
            #include <math.h>
            #include <pthread.h>
            #include <stdint.h>
            #include <stdio.h>
            #include <string.h>
            #include "facec.h"
            #define CHECK(call, want) do { facec_status st_ = (call); if (st_ != (want)) { printf("FAIL %s: %d %s\\n", #call, st_, facec_last_error()); return 1; } } while (0)
            static facec_session *shared; static const char *photo; static float reference[160];
            static int wrong = 0, busy = 0, ok = 0;
            static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
            static void *hammer(void *arg) {
                (void)arg;
                for (int i = 0; i < 30; i++) {
                    facec_faces *f;
                    facec_status st = facec_embed_file(shared, photo, FACEC_SKIP_DETECTION, &f);
                    pthread_mutex_lock(&lock);
                    if (st == FACEC_OK) { ok++; if (memcmp(facec_faces_embedding(f, 0), reference, sizeof reference)) wrong++; facec_faces_free(f); }
                    else if (st == FACEC_ERROR_ARGUMENT && strstr(facec_last_error(), "in use by another thread")) busy++;
                    else wrong++;
                    pthread_mutex_unlock(&lock);
                }
                return NULL;
            }
            int main(int argc, char **argv) {
                facec_model *m, *closed; facec_session *s; facec_faces *f; double d; int v;
                float zero[160] = {0}, one[160] = {1}, nan_[160] = {0};
                nan_[3] = NAN;
                unsigned char px[12] = {0};
                int foreign = 42;
                photo = argv[3];
                CHECK(facec_model_open(argv[1], &m), FACEC_OK);
                CHECK(facec_model_open(argv[1], &closed), FACEC_OK);
                facec_model_close(closed);
                CHECK(facec_session_open(closed, 1, &s), FACEC_ERROR_ARGUMENT);
                CHECK(facec_session_open((facec_model *)&foreign, 1, &s), FACEC_ERROR_ARGUMENT);
                if (facec_model_dim(closed) != 0 || facec_model_name(closed) != NULL) { printf("FAIL closed model answered\\n"); return 1; }
                facec_model_close(closed);                      /* twice: ignored */
                facec_model_close((facec_model *)&foreign);     /* foreign: ignored */
                CHECK(facec_session_open(m, 1, &s), FACEC_OK);
                CHECK(facec_embed_pixels(s, px, 2, 2, (size_t)1 << 62, FACEC_RGB, 0, &f), FACEC_ERROR_ARGUMENT);
                CHECK(facec_embed_pixels(s, px, 2, 2, SIZE_MAX, FACEC_RGB, 0, &f), FACEC_ERROR_ARGUMENT);
                CHECK(facec_embed_file(s, argv[2], 0, &f), FACEC_ERROR_IO);   /* a FIFO: refused, not read */
                CHECK(facec_embed_file((facec_session *)m, argv[3], 0, &f), FACEC_ERROR_ARGUMENT);  /* a model is no session */
                CHECK(facec_distance(zero, one, 160, FACEC_COSINE, &d), FACEC_ERROR_ARGUMENT);
                CHECK(facec_distance(nan_, one, 160, FACEC_EUCLIDEAN, &d), FACEC_ERROR_ARGUMENT);
                CHECK(facec_distance(zero, one, 160, FACEC_EUCLIDEAN, &d), FACEC_OK);
                CHECK(facec_verify(m, one, zero, 160, FACEC_COSINE, &d, &v), FACEC_ERROR_ARGUMENT);
                CHECK(facec_embed_file(s, argv[3], FACEC_SKIP_DETECTION, &f), FACEC_OK);
                memcpy(reference, facec_faces_embedding(f, 0), sizeof reference);
                facec_faces_free(f);
                if (facec_faces_count(f) != 0 || facec_faces_embedding(f, 0) != NULL) { printf("FAIL freed faces answered\\n"); return 1; }
                facec_faces_free(f);                            /* twice: ignored */
                /* Two threads on one session: each call is right or refused, never wrong. */
                shared = s;
                pthread_t a, b;
                pthread_create(&a, NULL, hammer, NULL); pthread_create(&b, NULL, hammer, NULL);
                pthread_join(a, NULL); pthread_join(b, NULL);
                if (wrong) { printf("FAIL %d wrong results\\n", wrong); return 1; }
                facec_session_close(s);
                CHECK(facec_embed_file(s, argv[3], 0, &f), FACEC_ERROR_ARGUMENT);  /* closed session */
                facec_model_close(m);
                printf("ok %d %d\\n", ok, busy);
                return 0;
            }
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let lib = URL(fileURLWithPath: TestPaths.binary("libFacecC.so")).deletingLastPathComponent().path
        let cc = try runProgram("/usr/bin/env", ["cc", "-std=c11", "-Wall", "-I", TestPaths.repo.appendingPathComponent("include").path,
                                                 source, "-L", lib, "-lFacecC", "-Wl,-rpath,\(lib)", "-lpthread", "-lm", "-o", dir.path("misuse")])
        try #require(cc.status == 0, "cc: \(cc.stderr)")
        let r = try runProgram(dir.path("misuse"), [Self.model, fifo, Self.face], timeout: 120)
        #expect(r.status == 0 && r.stdout.hasPrefix("ok "), "\(r.stdout) \(r.stderr)")
    }
}
