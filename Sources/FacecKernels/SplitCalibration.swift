/// Which of an instance's middling layers (`PlanExecutor.minCandidateFlops`
/// up to `minParallelFlops`) to split across its threads, decided by
/// timing: the first `2 · runsPerMode` runs alternate between running them
/// on the calling thread and splitting them, and a layer is split from then
/// on when its best split time beats its best serial time by 10%. Whether a
/// split pays for waking the workers and for the data left in the other
/// core's cache differs between machines by more than any fixed threshold
/// could cover.
struct SplitCalibration {
    static let runsPerMode = 4
    let isCandidate: [Bool]
    private var serialBest: [Double], splitBest: [Double]
    private var runs = 0

    init(candidates: [Int], steps: Int) {
        var c = [Bool](repeating: false, count: steps)
        for i in candidates { c[i] = true }
        isCandidate = c
        serialBest = [Double](repeating: .infinity, count: steps)
        splitBest = serialBest
    }

    /// Whether this run splits the candidates (odd runs) or not.
    var trialSplits: Bool { runs % 2 == 1 }

    mutating func record(_ step: Int, _ seconds: Double) {
        if trialSplits {
            splitBest[step] = min(splitBest[step], seconds)
        } else {
            serialBest[step] = min(serialBest[step], seconds)
        }
    }

    /// Ends a run; after the last trial, the steps to split.
    mutating func finishRun() -> [Bool]? {
        runs += 1
        guard runs == 2 * Self.runsPerMode else { return nil }
        return isCandidate.indices.map { isCandidate[$0] && splitBest[$0] < 0.9 * serialBest[$0] }
    }
}
