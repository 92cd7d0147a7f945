/// The name of every option and flag facec has, as a type: commands declare
/// (`OptionSpec.option(.threads, …)`) and read (`arguments.int(.threads)`)
/// options through these constants, so a misspelt name does not compile,
/// and `ParsedArguments` refuses (a programming error) to read an option
/// its command did not declare.
public struct OptionKey: Hashable, Sendable, CustomStringConvertible {
    /// The name on the command line, without the leading `--`.
    public let long: String
    init(_ long: String) { self.long = long }
    public var description: String { "--" + long }

    public static let arch = OptionKey("arch")
    public static let batch = OptionKey("batch")
    public static let crops = OptionKey("crops")
    public static let detector = OptionKey("detector")
    public static let efConstruction = OptionKey("ef-construction")
    public static let efSearch = OptionKey("ef-search")
    public static let embedding = OptionKey("embedding")
    public static let errorBudget = OptionKey("error-budget")
    public static let eyeCascade = OptionKey("eye-cascade")
    public static let faceCascade = OptionKey("face-cascade")
    public static let mtcnnWeights = OptionKey("mtcnn-weights")
    public static let gallery = OptionKey("gallery")
    public static let ids = OptionKey("ids")
    public static let json = OptionKey("json")
    public static let kernels = OptionKey("kernels")
    public static let layers = OptionKey("layers")
    public static let m = OptionKey("m")
    public static let metric = OptionKey("metric")
    public static let noEnforceDetection = OptionKey("no-enforce-detection")
    public static let normalization = OptionKey("normalization")
    public static let npy = OptionKey("npy")
    public static let output = OptionKey("output")
    public static let pairs = OptionKey("pairs")
    public static let peakPerCore = OptionKey("peak-per-core")
    public static let person = OptionKey("person")
    public static let prune = OptionKey("prune")
    public static let quiet = OptionKey("quiet")
    public static let `repeat` = OptionKey("repeat")
    public static let root = OptionKey("root")
    public static let runs = OptionKey("runs")
    public static let search = OptionKey("search")
    public static let similarity = OptionKey("similarity")
    public static let threads = OptionKey("threads")
    public static let threshold = OptionKey("threshold")
    public static let timing = OptionKey("timing")
    public static let top = OptionKey("top")
    public static let weights = OptionKey("weights")
}
