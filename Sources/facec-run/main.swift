import FacecCLI

// The runtime alone, for edge boxes: the same subcommands, options and
// output as `facec` without `convert`, so neither the importers nor HDF5 or
// matio are linked (Package.swift; EdgeRuntimeTests checks it).
Program.main(ProgramSpec(
    name: "facec-run",
    abstract: "Run compiled .fgraph face models on photos (the facec runtime, without the converter).",
    commands: Program.runtimeCommands))
