import FacecCLI

// The full toolchain: `convert` (importers and compiler), the gallery and
// `find` (recognition against known faces), plus the runtime subcommands
// that `facec-run` also has.
Program.main(ProgramSpec(
    name: "facec",
    abstract: "Convert face recognition weights into compiled .fgraph models, run them on photos and recognise faces against a gallery.",
    commands: [ConvertCommand.self] + Program.runtimeCommands + [
        FindCommand.self, GalleryAddCommand.self, GalleryListCommand.self, GalleryRemoveCommand.self,
        GalleryStatsCommand.self, GalleryIndexCommand.self, GalleryBenchCommand.self,
    ]))
