import Testing
@testable import FacecKernels
import FacecRuntime

/// The layers between `minCandidateFlops` and `minParallelFlops` are split
/// across the threads only when that measured faster on the instance's
/// first runs: the decision rule, and that the embeddings are the same bits
/// whichever way the layers run.
@Suite struct SplitCalibrationTests {
    @Test(arguments: [(0.5, true), (0.95, false), (2.0, false)])
    func layersAreSplitOnlyWhenTheBestSplitRunIsTenPercentFaster(splitTime: Double, splits: Bool) {
        var c = SplitCalibration(candidates: [1, 2], steps: 4)
        #expect(c.isCandidate == [false, true, true, false])
        var decided: Bool? = nil
        let warm = SplitCalibration.warmUpRuns, total = warm + 2 * SplitCalibration.runsPerMode
        for run in 0..<total {
            #expect(c.trialSplits == (run >= warm + SplitCalibration.runsPerMode))
            // Warm-up runs are not counted (here: absurdly fast); in each block
            // the first run is slow (cold) and the best run counts.
            let first = (run - warm) % SplitCalibration.runsPerMode == 0 ? 3.0 : 1.0
            decided = c.finishRun(seconds: run < warm ? 1e-9 : first * (c.trialSplits ? splitTime : 1.0))
            #expect((decided == nil) == (run < total - 1))
        }
        #expect(decided == splits)
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
        // The first runs keep every middling layer on the calling thread, the
        // next split them all; every later run must give the same bits.
        let first = try two.embed(input)
        for _ in 0..<(SplitCalibration.warmUpRuns + 2 * SplitCalibration.runsPerMode + 2) {
            #expect(try two.embed(input) == first)
        }
        // One thread partitions some layers otherwise (dense partial sums per
        // thread, Winograd blocks): the same up to float rounding.
        let one = try model.makeInstance(threads: 1).embed(input)
        #expect(zip(one, first).map { abs($0 - $1) }.max()! <= 1e-5 * one.map { abs($0) }.max()!)
        let split = try #require(two.splitNodes)
        #expect(split.count == model.header.nodes.count)
        print("SplitCalibration: DeepID on 2 threads splits \(model.header.nodes.indices.filter { split[$0] }.map { model.header.nodes[$0].name })")
        let middling = model.header.nodes.indices.filter { candidates.map(\.name).contains(model.header.nodes[$0].name) }
        #expect(middling.allSatisfy { split[$0] } || middling.allSatisfy { !split[$0] }, "one decision for all middling layers")
        #expect(model.makeInstance(threads: 1).splitNodes != nil, "one thread has nothing to calibrate")
    }
}
