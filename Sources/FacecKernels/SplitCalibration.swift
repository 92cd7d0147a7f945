/// Whether an instance splits its middling layers (`PlanExecutor
/// .minCandidateFlops` up to `minParallelFlops`) across its threads, decided
/// by timing whole runs: after `warmUpRuns` (an instance's first runs are
/// slower by half, whichever way they run), `runsPerMode` runs keep them on
/// the calling thread, the next `runsPerMode` split them (the workers woken
/// first, as they are when every run splits), and they are split from then
/// on when the best split run beats the best serial one by 10%.
///
/// Why whole runs and one decision for all: what a split costs is partly
/// paid by the next layer, which finds half its input in the other core's
/// cache. Timed layer by layer on a Zen 2 VM, DeepID's Conv1 split looked
/// 30% faster while the run with it split was 7% slower. And whether a split
/// pays at all differs between machines (and, on a VM, between hours) by
/// more than any fixed threshold could cover.
struct SplitCalibration {
    static let warmUpRuns = 8, runsPerMode = 8
    let isCandidate: [Bool]
    private var serialBest = Double.infinity, splitBest = Double.infinity
    private var runs = 0

    init(candidates: [Int], steps: Int) {
        var c = [Bool](repeating: false, count: steps)
        for i in candidates { c[i] = true }
        isCandidate = c
    }

    /// Whether this run splits the candidates (the last block) or not.
    var trialSplits: Bool { runs >= Self.warmUpRuns + Self.runsPerMode }

    /// Ends a run that took `seconds`; after the last trial, whether to split.
    mutating func finishRun(seconds: Double) -> Bool? {
        if trialSplits {
            splitBest = min(splitBest, seconds)
        } else if runs >= Self.warmUpRuns {
            serialBest = min(serialBest, seconds)
        }
        runs += 1
        guard runs == Self.warmUpRuns + 2 * Self.runsPerMode else { return nil }
        return splitBest < 0.9 * serialBest
    }
}
