import FacecCLI

// The full toolchain: `convert` (importers and compiler) plus the runtime
// subcommands that `facec-run` also has.
Program.main(ProgramSpec(
    name: "facec",
    abstract: "Convert face recognition weights into compiled .fgraph models and run them on photos.",
    commands: [ConvertCommand.self] + Program.runtimeCommands))
