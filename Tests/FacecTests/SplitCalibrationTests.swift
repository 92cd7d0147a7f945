import Testing
@testable import FacecKernels
import FacecRuntime

/// The layers between `minCandidateFlops` and `minParallelFlops` are split
/// across the threads only where that measured faster on the instance's
/// first runs: the decision rule, and that the embeddings are the same bits
/// whichever way each layer runs.
@Suite struct SplitCalibrationTests {
    @Test func aLayerIsSplitOnlyWhenItsBestSplitTimeIsTenPercentBetter() {
        var c = SplitCalibration(candidates: [1, 2, 3], steps: 4)
        var decided: [Bool]? = nil
        for run in 0..<(2 * SplitCalibration.runsPerMode) {
            #expect(c.trialSplits == (run % 2 == 1))
            let split = c.trialSplits
            c.record(1, split ? 0.5 : 1.0)      // split twice as fast
            c.record(2, split ? 0.95 : 1.0)     // within the 10%: kept serial
            c.record(3, split ? 2.0 : 1.0)      // slower split
            decided = c.finishRun()
            #expect((decided == nil) == (run < 2 * SplitCalibration.runsPerMode - 1))
        }
        #expect(decided == [false, true, false, false])
    }

    @Test func embeddingsAreTheSameBitsBeforeDuringAndAfterCalibration() throws {
        let dir = TempDir()
        let model = try convertAndLoad(TestPaths.demoWeights, to: dir)
        // DeepID's layers are all between the two thresholds but its pools and add.
        let candidates = model.header.nodes.filter { $0.flops >= PlanExecutor.minCandidateFlops && $0.flops < PlanExecutor.minParallelFlops }
        #expect(candidates.count >= 4)
        let input = (0..<model.inputCount).map { Float(($0 * 37) % 255) / 255 }
        let two = model.makeInstance(threads: 2)
        #expect(two.splitNodes == nil)
        // The first run keeps every middling layer on the calling thread, the
        // second splits them all; every later run must give the same bits.
        let first = try two.embed(input)
        for _ in 0..<(2 * SplitCalibration.runsPerMode + 2) {
            #expect(try two.embed(input) == first)
        }
        // One thread partitions some layers otherwise (dense partial sums per
        // thread, Winograd blocks): the same up to float rounding.
        let one = try model.makeInstance(threads: 1).embed(input)
        #expect(zip(one, first).map { abs($0 - $1) }.max()! <= 1e-5 * one.map { abs($0) }.max()!)
        let split = try #require(two.splitNodes)
        #expect(split.count == model.header.nodes.count)
        print("SplitCalibration: DeepID on 2 threads splits \(model.header.nodes.indices.filter { split[$0] }.map { model.header.nodes[$0].name })")
        #expect(model.makeInstance(threads: 1).splitNodes != nil, "one thread has nothing to calibrate")
    }
}
