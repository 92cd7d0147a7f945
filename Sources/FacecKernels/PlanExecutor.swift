import FacecCore
import FacecFormat

/// Runs a checked plan (the `Step`s PlanBuilder made) with one instance's
/// memory and threads: the dispatch loop over the kernels, in the kernels'
/// module so that the per-layer and per-row calls stay inside one optimised,
/// -Ounchecked unit (split from it, VGG-Face f32 ran ~1% slower). Nothing
/// here validates: every bound was checked when the model was loaded.
/// Holds one instance's activation arena (planned size, allocated once,
/// reused for every input), scratch and worker pool; not for concurrent use.
package final class PlanExecutor {
    private let steps: [Step]
    private let header: ModelHeader
    private let int8Convs: [Int8ConvWeights?]
    private let arena: UnsafeMutableRawPointer
    /// Dense partial sums: one OutPad8 row per task.
    private let partials: UnsafeMutablePointer<Float>
    private let partialCapacity: Int
    /// Zero-padded input copy for padded convolutions (float32, or u8 for
    /// the VNNI int8 convolutions).
    private let padded: UnsafeMutablePointer<Float>
    /// Per-task or per-part value ranges of a VNNI convolution (lo, hi).
    private let ranges: UnsafeMutablePointer<Float>
    /// Per value, its range when the layer that wrote it in this run knew it
    /// (VNNI convolutions, and pooling or padding of such a value): the next
    /// VNNI convolution then skips measuring its input.
    private var valueRanges: [ValueRange?]
    private var inputPointers: [UnsafePointer<Float>] = []
    private let pool: WorkerPool
    /// Winograd tile-block scratch, one slice per thread.
    private let winograd: UnsafeMutablePointer<Float>
    private let winogradStride: Int
    /// A zero bias for the Winograd products.
    private let zeros: UnsafeMutablePointer<Float>
    /// im2col patches of the convolutions on small maps (`PatchConv`).
    private let patches: UnsafeMutablePointer<Float>

    package let isa: KernelISA
    /// Per step: whether it is worth splitting across the threads.
    private var parallelSteps: [Bool]
    /// Steps whose split pays on some machines and not on others, timed both
    /// ways on this instance's first runs (`SplitCalibration`).
    private var calibration: SplitCalibration?
    /// Per step: a convolution run together with the max pooling after it
    /// (`ConvPoolKernel`), which is then skipped.
    private let fusedWithPool: [Bool]

    /// From this much work a layer is always split across the threads.
    /// Every VGG-Face layer and nearly every dlib one is far above it.
    package static let minParallelFlops = 8_000_000
    /// Between this and `minParallelFlops` it depends on the machine: on a
    /// Xeon and a Zen 4, DeepID (16 MFLOP in all) ran slower on 2 threads
    /// than on 1 with every layer split (0.235 vs 0.176 ms; its Winograd
    /// Conv2, 6.9 MFLOP, 0.084 vs 0.047 ms), while on a Zen 2 VM the same
    /// split took it from 0.195 to 0.130 ms. So the instance's first runs
    /// are timed both ways and such layers are split only when that measured
    /// faster (`SplitCalibration`). Results are the same either way: a serial
    /// layer runs the same jobs, in the same partition, on the calling thread.
    package static let minCandidateFlops = 256_000
    /// The same for layers without multiply-adds (pooling, padding, adds):
    /// output floats (dlib's 35×35×32 adds and first pool, 39,200 floats, took
    /// twice as long serially on two threads as on one: half their input sat
    /// in the other core's cache).
    package static let minParallelElements = 16 * 1024

    package init(steps: [Step], header: ModelHeader, int8Convs: [Int8ConvWeights?], threads: Int, isa: KernelISA) {
        self.steps = steps; self.header = header; self.int8Convs = int8Convs
        self.isa = isa
        pool = WorkerPool(threads: threads)
        let parallel = zip(steps, header.nodes).map { s, n in
            n.flops >= Self.minParallelFlops || (n.flops == 0 && s.count >= Self.minParallelElements)
        }
        parallelSteps = parallel
        let candidates = header.nodes.indices.filter { !parallel[$0] && header.nodes[$0].flops >= Self.minCandidateFlops }
        calibration = pool.threads > 1 && !candidates.isEmpty ? SplitCalibration(candidates: candidates, steps: steps.count) : nil
        let bytes = max(header.arenaBytes, 64)
        arena = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        arena.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        partialCapacity = max(8, steps.map(\.paddedOut).max() ?? 8)
        partials = UnsafeMutablePointer<Float>.allocate(capacity: partialCapacity * Self.denseTasks(pool.threads))
        let fused = steps.indices.map { ConvPoolKernel.fusable(steps, $0, header: header, wide: isa.wide) }
        fusedWithPool = fused
        let planeCount = steps.indices.filter { fused[$0] }.map {
            ConvPoolKernel.planarFloats(steps[$0], pooledWidth: steps[$0 + 1].outShape.w)
        }.max() ?? 0
        let paddedCount = steps.map { s -> Int in
            switch s.kernel {
            case .conv2dDirect:
                return (s.inShape.h + s.padTop + s.padBottom) * (s.inShape.w + s.padLeft + s.padRight) * s.inShape.c
            case .conv2dWinogradF43:
                let g = WinogradKernel.geometry(s)
                return max(g.paddedH, s.inShape.h + s.padTop + s.padBottom) * max(g.paddedW, s.inShape.w + s.padLeft + s.padRight) * s.inShape.c
            default: return 0
            }
        }.max() ?? 0
        let int8Bytes = zip(steps, int8Convs).map { s, w in w == nil ? 0 : Int8ConvWeights.paddedBytes(s) }.max() ?? 0
        padded = UnsafeMutablePointer<Float>.allocate(capacity: max(8, paddedCount, planeCount, (int8Bytes + 3) / 4))
        let int8Tasks = zip(steps, int8Convs).map { s, w in w.map { Int8ConvKernel.tasks(s, $0) } ?? 0 }.max() ?? 0
        ranges = UnsafeMutablePointer<Float>.allocate(capacity: 2 * max(pool.threads, int8Tasks))
        valueRanges = Array(repeating: nil, count: header.values.count)
        let winogradSteps = steps.filter { $0.kernel == .conv2dWinogradF43 }.map { WinogradKernel.geometry($0) }
        let started = pool.threads   // fewer than asked if thread creation failed
        let blockScratch = winogradSteps.filter { !WinogradKernel.usesWholeLayer($0, threads: started) }.map(\.scratchFloats).max() ?? 0
        let layerScratch = winogradSteps.filter { WinogradKernel.usesWholeLayer($0, threads: started) }
            .map { 36 * $0.tiles * ($0.cinPad + $0.coutPad) }.max() ?? 0
        winograd = UnsafeMutablePointer<Float>.allocate(capacity: max(8, blockScratch * pool.threads, layerScratch))
        winogradStride = blockScratch
        zeros = UnsafeMutablePointer<Float>.allocate(capacity: max(8, partialCapacity))
        zeros.initialize(repeating: 0, count: max(8, partialCapacity))
        patches = UnsafeMutablePointer<Float>.allocate(capacity: max(8, steps.filter { PatchConv.applies($0) || PatchConv.isSinglePixel($0) }
            .map { PatchConv.floats($0, tails: threads) }.max() ?? 0))
        inputPointers.reserveCapacity(64)
    }

    deinit {
        pool.shutdown()
        arena.deallocate()
        partials.deallocate()
        padded.deallocate()
        ranges.deallocate()
        winograd.deallocate()
        zeros.deallocate()
        patches.deallocate()
    }

    package var threads: Int { pool.threads }

    /// Per step, whether it is split; nil while calibrating.
    package var splitSteps: [Bool]? { calibration == nil ? parallelSteps : nil }

    /// Row ranges per dense layer: one per thread (more would only add
    /// partial sums to reduce).
    static func denseTasks(_ threads: Int) -> Int { threads }

    /// Runs the plan on one input (H×W×C floats, already checked by the
    /// caller); with `times` as long as the plan, records seconds per step.
    package func run(_ input: UnsafeBufferPointer<Float>, times: inout [Double]) {
        let h = header
        let timed = !times.isEmpty
        pointer(h.values[h.inputValue].arenaOffset).update(from: input.baseAddress!, count: input.count)
        defer { pool.serial = false }
        if isa.int8Activations { for v in valueRanges.indices { valueRanges[v] = nil } }
        var skip = false
        let trial = calibration?.trialSplits
        // A split trial starts with the workers awake, as they are when every
        // run splits: the first split layer must not be charged their wake-up.
        if trial == true { pool.parallelFor(pool.threads) { _ in } }
        let runStart = trial != nil ? monotonicSeconds() : 0
        for (index, s) in steps.enumerated() {
            if skip { skip = false; continue }   // pooled by the convolution before it
            let start = timed ? monotonicSeconds() : 0
            pool.serial = !(parallelSteps[index] || (trial == true && calibration!.isCandidate[index]))
            let y = pointer(s.output)
            switch s.kernel {
            case .conv2dDirect:
                if fusedWithPool[index] {
                    let pool = steps[index + 1]
                    convPool(s, pool, input: pointer(s.inputs[0]), output: pointer(pool.output))
                    skip = true
                } else if isa.int8Activations, let w = int8Convs[index] {
                    let node = h.nodes[index]
                    valueRanges[node.output] = Int8ConvKernel.run(
                        s, w, input: pointer(s.inputs[0]), output: y, known: valueRanges[node.inputs[0]],
                        padded: UnsafeMutableRawPointer(padded), ranges: ranges, pool: pool)
                } else {
                    conv(s, input: pointer(s.inputs[0]), output: y)
                }
            case .conv2dWinogradF43: winogradConv(s, input: pointer(s.inputs[0]), output: y)
            case .dense: dense(s, input: pointer(s.inputs[0]), output: y)
            case .maxPool, .avgPool:
                let x = UnsafePointer(pointer(s.inputs[0])), isMax = s.kernel == .maxPool
                pool.parallelFor(s.outShape.h) { oy in PoolKernel.row(s, oy: oy, isMax: isMax, input: x, output: y) }
                if isMax { passRange(index) }   // a max is one of its inputs
            case .zeroPad:
                Kernels.zeroPad(s, input: pointer(s.inputs[0]), output: y)
                passRange(index)   // adds zeros, which every quantisation range holds
            case .relu: Kernels.relu(s, input: pointer(s.inputs[0]), output: y)
            case .softmax: Kernels.softmax(s, input: pointer(s.inputs[0]), output: y)
            case .add:
                inputPointers.removeAll(keepingCapacity: true)
                for offset in s.inputs { inputPointers.append(UnsafePointer(pointer(offset))) }
                let inputs = inputPointers, parts = min(pool.threads, s.addShapes.isEmpty ? 8 : s.outShape.h)
                pool.parallelFor(parts) { part in Kernels.add(s, inputs: inputs, output: y, part: part, of: parts) }
            }
            if timed { times[index] = monotonicSeconds() - start }
        }
        if trial != nil, let split = calibration!.finishRun(seconds: monotonicSeconds() - runStart) {
            if split { for i in steps.indices where calibration!.isCandidate[i] { parallelSteps[i] = true } }
            calibration = nil
        }
    }

    private func conv(_ s: Step, input x: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let source: UnsafePointer<Float>
        if s.padTop + s.padBottom + s.padLeft + s.padRight > 0 {
            pad(s, input: x)
            source = UnsafePointer(padded)
        } else {
            source = UnsafePointer(x)
        }
        let wide = isa.wide
        if PatchConv.isSinglePixel(s) {
            PatchConv.gather(s, pixel: 0, padded: source, into: patches, stride: 1)
            dense(PatchConv.denseStep(s), input: patches, output: y)
            return
        }
        if PatchConv.applies(s) {
            let q = patches, p = PatchConv.patchStep(s), groups = p.outShape.h
            let tails = patches + groups * p.outShape.w * p.inShape.c, pixels = s.outShape.h * s.outShape.w
            let parts = min(pool.threads, groups)
            pool.parallelFor(parts) { t in PatchConv.gather(s, groups: (groups * t / parts)..<(groups * (t + 1) / parts), padded: source, into: q) }
            let ranges = PatchConv.channelRanges(p, threads: pool.threads)
            pool.parallelFor(ranges.count) { t in
                PatchConv.channels(p, ranges[t].0, ranges[t].1, patches: q, output: y, pixels: pixels, tail: tails + t * 6 * s.outShape.c)
            }
            return
        }
        pool.parallelFor(s.outShape.h) { oy in ConvKernel.row(s, oy: oy, padded: source, output: y, wide: wide) }
    }

    /// Whether node `index` runs inside the node before it (a max pooling
    /// fused into its convolution on this instance's instruction set).
    package func runsWithPrevious(_ index: Int) -> Bool { index > 0 && fusedWithPool[index - 1] }

    /// A convolution and the 2×2 max pooling after it, in one pass.
    private func convPool(_ conv: Step, _ pool: Step, input x: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        ConvPoolKernel.planes(conv, pooledWidth: pool.outShape.w, input: x, into: padded)
        let planes = UnsafePointer(padded)
        self.pool.parallelFor(pool.outShape.h) { py in ConvPoolKernel.row(conv, pool, py: py, planes: planes, output: y) }
    }

    /// Node `index`'s output keeps its input's known range, if any.
    private func passRange(_ index: Int) {
        guard isa.int8Activations else { return }
        let node = header.nodes[index]
        valueRanges[node.output] = valueRanges[node.inputs[0]]
    }

    private func winogradConv(_ s: Step, input x: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let g = WinogradKernel.geometry(s, threads: pool.threads)
        let extraBottom = max(0, g.paddedH - (s.inShape.h + s.padTop + s.padBottom))
        let extraRight = max(0, g.paddedW - (s.inShape.w + s.padLeft + s.padRight))
        pad(s, input: x, extraBottom: extraBottom, extraRight: extraRight)
        let source = UnsafePointer(padded), scratch = winograd, stride = winogradStride, zeros = UnsafePointer(self.zeros)
        let wide = isa.wide
        if WinogradKernel.usesWholeLayer(g, threads: pool.threads) {
            let V = scratch, M = scratch + 36 * g.tiles * g.cinPad
            let tileTasks = min(g.tiles, pool.threads * 4)
            pool.parallelFor(tileTasks) { k in
                WinogradKernel.inputTransform(s, g, tiles: g.tiles * k / tileTasks, g.tiles * (k + 1) / tileTasks, padded: source, V: V, wide: wide)
            }
            let chunks = (g.coutPad + WinogradKernel.channelChunk - 1) / WinogradKernel.channelChunk
            pool.parallelFor(36 * chunks) { k in
                let xi = k / chunks, c0 = (k % chunks) * WinogradKernel.channelChunk
                WinogradKernel.product(s, g, xi: xi, channels: c0, min(g.coutPad, c0 + WinogradKernel.channelChunk), V: V, M: M, zeros: zeros, wide: wide)
            }
            pool.parallelFor(tileTasks) { k in
                WinogradKernel.outputTransform(s, g, tiles: g.tiles * k / tileTasks, g.tiles * (k + 1) / tileTasks, M: M, output: y, wide: wide)
            }
            return
        }
        // Blocks are handed out dynamically; each thread uses its own scratch slice.
        pool.parallelForWithThread(g.blocks) { block, thread in
            WinogradKernel.block(s, g, block: block, padded: source, scratch: scratch + thread * stride, zeros: zeros, output: y, wide: wide)
        }
    }

    /// The zero-padded input copy, split across the threads when it is large
    /// (VGG conv1_2: 13 MB, a serial part worth ~1 ms otherwise).
    private func pad(_ s: Step, input x: UnsafeMutablePointer<Float>, extraBottom: Int = 0, extraRight: Int = 0) {
        let bytes = s.inShape.h * s.inShape.w * s.inShape.c * 4
        let parts = bytes >= 1 << 20 ? min(pool.threads, s.inShape.h) : 1
        let padded = self.padded
        if parts == 1 {
            ConvKernel.pad(s, input: x, into: padded, extraBottom: extraBottom, extraRight: extraRight)
            return
        }
        pool.parallelFor(parts) { part in
            ConvKernel.pad(s, input: x, into: padded, extraBottom: extraBottom, extraRight: extraRight, part: part, of: parts)
        }
    }

    private func dense(_ s: Step, input x: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>) {
        let n = s.inShape.c
        let tasks = min(Self.denseTasks(pool.threads), max(1, n / 256))
        let partials = self.partials, capacity = partialCapacity
        pool.parallelFor(tasks) { t in
            DenseKernel.partial(s, input: x, rows: n * t / tasks, n * (t + 1) / tasks, into: partials + t * capacity)
        }
        DenseKernel.reduce(s, partials: partials, count: tasks, stride: capacity, output: y)
    }

    @inline(__always)
    private func pointer(_ offset: Int) -> UnsafeMutablePointer<Float> {
        (arena + offset).assumingMemoryBound(to: Float.self)
    }

    /// Value `value` of the last run, L2-normalised if asked.
    package func output(_ value: Int, normalize: Bool) -> [Float] {
        let v = header.values[value]
        var out = Array(UnsafeBufferPointer(start: pointer(v.arenaOffset), count: v.elementCount))
        if normalize { Normalization.l2Normalize(&out) }
        return out
    }
}

