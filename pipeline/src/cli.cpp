#include "terraseg/pipeline/cli.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

#include "terraseg/core/error.hpp"

namespace terraseg {

int run_cli(int argc, char** argv) {
  CLI::App app{"terraseg: segment rasters and street photos into georeferenced masks and indicators"};
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const Error& e) {
    std::cerr << "terraseg: error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace terraseg
