import FacecCore
import FacecFormat
import FacecRuntime
import FacecPipeline

/// Times the network alone (inputs already preprocessed, as the peers are
/// timed): warm-up, then `runs` timed calls of `batch` images.
struct BenchCommand: Command {
    static let spec = CommandSpec(
        name: "bench",
        abstract: "Time a model: median/min ms per call, images/s, GFLOP/s, % of peak; --layers for a per-layer table.",
        arguments: [.one("model", help: "The .fgraph model.")],
        options: [
            .option(.threads, help: "Threads (default: all cores)."),
            .option(.batch, help: "Images per call (default: 1)."),
            .option(.runs, help: "Timed calls (default: 20 for models over 1 GFLOP, else 500)."),
            .option(.peakPerCore, help: "Peak GFLOP/s of one core for the % column (default: measured now with the kernels' instruction set: AVX2, AVX-512 or NEON)."),
            .flag(.layers, help: "Print per-layer times."),
            .flag(.json, help: "One JSON object instead of text."),
        ])

    let model: String
    let threads: Int?
    let batch: Int
    let runs: Int?
    let peakPerCore: Double?
    let layers, json: Bool

    init(_ a: ParsedArguments) throws {
        model = a.argument("model")
        threads = try a.threads()
        batch = try a.int(.batch) ?? 1
        runs = try a.int(.runs)
        peakPerCore = try a.double(.peakPerCore)
        layers = a.flag(.layers)
        json = a.flag(.json)
        guard batch >= 1 else { throw FacecError(.usage, "", "--batch must be at least 1") }
        if let r = runs, r < 1 { throw FacecError(.usage, "", "--runs must be at least 1") }
    }

    func run() throws {
        let loaded = try Model(path: model)
        let t = threads ?? systemCoreCount()
        // A batch runs as facec's pairs mode does: one single-threaded instance
        // per thread, each on its share of the images (no per-layer
        // synchronisation); batch 1 splits each layer across the threads.
        let perImage = batch == 1 || t == 1
        let instance = loaded.makeInstance(threads: perImage ? t : 1)
        let workers = perImage ? [] : (0..<t).map { _ in loaded.makeInstance(threads: 1) }
        let flops = Double(loaded.header.totalFlops)
        let n = runs ?? (flops > 1e9 ? 20 : 500)
        // Deterministic input in [0, 1): the network's speed does not depend on it
        // (except ReLU sparsity in dense layers, as for real photos).
        var seed: UInt32 = 12345
        let input = (0..<loaded.inputCount).map { _ -> Float in seed = seed &* 1664525 &+ 1013904223; return Float(seed >> 8) / 16_777_216 }
        // One checked run first: a model whose output is not finite fails here, not in the timing loop.
        _ = try instance.embed(input)
        // The threads that really run (fewer than asked when the system
        // refuses to create more, e.g. under a pids limit).
        var ran = perImage ? instance.threads : t
        let runBatch = {
            if perImage {
                for _ in 0..<batch { _ = try? instance.embed(input) }
            } else {
                ran = Threads.parallelFor(iterations: workers.count, threads: workers.count) { w in
                    for _ in stride(from: w, to: batch, by: workers.count) { _ = try? workers[w].embed(input) }
                }
            }
        }
        for _ in 0..<max(2, min(50, n / 10)) { runBatch() }
        var times: [Double] = []
        for _ in 0..<n {
            let start = monotonicSeconds()
            runBatch()
            times.append((monotonicSeconds() - start) * 1e3)
        }
        times.sort()
        let median = times[times.count / 2], best = times[0]
        let imagesPerSecond = Double(batch) / (median / 1e3)
        let gflops = flops * Double(batch) / (median / 1e3) / 1e9
        let isa = instance.isa
        let corePeak = peakPerCore ?? isa.measuredPeak(seconds: 0.2)
        let used = ran
        let peakShare = gflops / (corePeak * Double(used)) * 100
        var perLayer: [(NodeEntry, Double)] = []
        if layers {
            var sums = [Double](repeating: 0, count: loaded.header.nodes.count)
            let reps = max(3, min(50, n))
            var all: [[Double]] = []
            for _ in 0..<reps { all.append(instance.profile(input)) }
            for i in sums.indices { sums[i] = all.map { $0[i] }.sorted()[reps / 2] * 1e3 }
            perLayer = zip(loaded.header.nodes, sums).map { ($0, $1) }
        }
        if json {
            print(JSONText.object([
                ("runtime", JSONText.string("facec")), ("model", JSONText.string(loaded.header.modelName)),
                ("threads", "\(used)"), ("batch", "\(batch)"), ("runs", "\(n)"), ("isa", JSONText.string(isa.rawValue)),
                ("median_ms", JSONText.number(median)), ("min_ms", JSONText.number(best)),
                ("img_per_s", JSONText.number(imagesPerSecond)), ("gflop_per_s", JSONText.number(gflops)),
                ("peak_percent", JSONText.number(peakShare)), ("peak_gflop_per_s", JSONText.number(corePeak * Double(used))),
                ("layers", "[" + perLayer.map { JSONText.object([("name", JSONText.string($0.0.name)), ("kernel", JSONText.string($0.0.kernel.rawValue)), ("ms", JSONText.number($0.1))]) }.joined(separator: ",") + "]"),
            ]))
            return
        }
        print("facec \(loaded.header.modelName): threads=\(used) batch=\(batch) runs=\(n) kernels=\(isa.rawValue) | \(f(flops / 1e9, 4)) GFLOP/img"
              + " (direct-convolution count; Winograd layers do fewer multiplications, so GFLOP/s can exceed the peak)")
        print("median \(f(median, 3)) ms  min \(f(best, 3)) ms  \(f(imagesPerSecond, 1)) img/s  \(f(gflops, 1)) GFLOP/s  \(f(peakShare, 1))% of \(f(corePeak * Double(used), 0)) GFLOP/s peak (\(peakPerCore == nil ? "measured" : "given"))")
        if layers {
            let total = perLayer.reduce(0) { $0 + $1.1 }
            print("\n#  node           kernel          ms        %      GFLOP/s")
            for (i, (node, ms)) in perLayer.enumerated() {
                let g = ms > 0 ? Double(node.flops) / (ms / 1e3) / 1e9 : 0
                if instance.runsWithPrevious(i) {
                    print(InspectCommand.pad("\(i)", 3) + InspectCommand.pad(node.name, 15) + InspectCommand.pad(node.kernel.rawValue, 16)
                          + "(run inside node \(i - 1): its time includes this one)")
                    continue
                }
                print(InspectCommand.pad("\(i)", 3) + InspectCommand.pad(node.name, 15) + InspectCommand.pad(node.kernel.rawValue, 16)
                      + InspectCommand.pad(f(ms, 3), 10) + InspectCommand.pad(f(ms / total * 100, 1), 7) + f(g, 1))
            }
            print("sum of layers \(f(total, 3)) ms")
        }
    }

    private func f(_ x: Double, _ digits: Int) -> String {
        let p = pow10(digits)
        return "\((x * p).rounded() / p)"
    }
    private func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { a, _ in a * 10 } }
}
