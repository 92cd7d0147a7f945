import ArgumentParser
import FacecFormat
import FacecGraph
import FacecImporters

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert Keras .h5 weights into a compiled .fgraph model (written atomically).")

    @Argument(help: "The weight file (.h5).") var input: String
    @Option(name: .shortAndLong, help: "Output file (default: INPUT's base name with .fgraph, in the current directory).")
    var output: String?
    @Option(help: "Built-in architecture for weights-only files (\(KerasImporter.builtInArchitectures.joined(separator: ", "))); default: detected from the weight shapes.")
    var arch: String?
    @Flag(help: "Print nothing on success.") var quiet = false

    func run() throws {
        let out = output ?? Self.defaultOutput(for: input)
        let (graph, description) = try KerasImporter.load(path: input, architecture: arch)
        let compiled: CompiledModel
        do {
            compiled = try Compiler.compile(graph, description)
        } catch let e as GraphError {
            throw ImportError(input, e.description)
        }
        let (header, size) = try ModelWriter.write(header: compiled.header, producers: compiled.producers, to: out)
        if !quiet {
            print("wrote \(out): \(header.modelName), \(header.nodes.count) nodes, output \(header.output.name) [\(header.output.dim)], \(size) bytes, arena \(header.arenaBytes) bytes")
        }
    }

    static func defaultOutput(for input: String) -> String {
        let base = input.split(separator: "/").last.map(String.init) ?? input
        let stem = base.lastIndex(of: ".").map { String(base[..<$0]) } ?? base
        return (stem.isEmpty ? base : stem) + ".fgraph"
    }
}
