#include "terraseg/pipeline/cli.hpp"

#include <cpl_conv.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "command.hpp"
#include "interrupt.hpp"
#include "models.hpp"
#include "terraseg/core/error.hpp"
#include "terraseg/core/threads.hpp"

namespace terraseg {

namespace {

/// GDAL's default block cache (5 % of RAM) makes overview building on huge rasters grow to gigabytes;
/// 256 MB keeps peak memory bounded. A user's GDAL_CACHEMAX wins.
void bound_gdal_cache() {
  if (std::getenv("GDAL_CACHEMAX") == nullptr) CPLSetConfigOption("GDAL_CACHEMAX", "256");
}

/// GDAL's single-dash long options, spelled as CLI11 takes them: "-co" -> "--co" (up to a "--").
std::vector<std::string> gdal_style_arguments(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    if (args[i] == "-co") args[i] = "--co";
  }
  return args;
}

void apply_gdal_config(const std::vector<std::string>& pairs) {
  if (pairs.size() % 2 != 0) {
    throw Error("--config " + pairs.back() + ": needs a KEY and a VALUE, e.g. --config GDAL_CACHEMAX 512");
  }
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    if (pairs[i].empty()) throw Error("--config: empty KEY; give --config KEY VALUE, e.g. --config GDAL_CACHEMAX 512");
    CPLSetConfigOption(pairs[i].c_str(), pairs[i + 1].c_str());
  }
}

}  // namespace

int run_cli(int argc, char** argv) {
  bound_gdal_cache();
  CLI::App app{"terraseg: segment rasters and street photos into georeferenced masks and indicators"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "terraseg 0.1.0");

  cli::CommonOptions common;
  std::vector<std::pair<CLI::App*, std::unique_ptr<cli::Command>>> commands;
  for (const cli::CommandEntry& entry : cli::all_commands()) {
    CLI::App* sub = app.add_subcommand(entry.name, entry.help);
    sub->add_flag("-q,--quiet", common.quiet, "No progress display");
    sub->add_option("--threads", common.threads,
                    "Threads (default: the CPUs this process may use: OMP_NUM_THREADS, else its affinity within its "
                    "cgroup CPU quota)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--config", common.gdal_config,
                    "--config KEY VALUE: set a GDAL configuration option, as GDAL's utilities do (repeatable), e.g. "
                    "--config AWS_NO_SIGN_REQUEST YES")
        ->expected(2)
        ->take_all();
    sub->add_option("--tuning", common.tuning,
                    "How plans are chosen: measure (time the layout and convolution candidates once per CPU, model "
                    "and input shape, cached in ~/.cache/terraseg) or rules (fixed choices, deterministic); default "
                    "$TERRASEG_TUNING, else measure");
    auto command = entry.make();
    command->declare(*sub, common);
    commands.emplace_back(sub, std::move(command));
  }
  try {
    if (argc > 0) app.name(argv[0]);
    std::vector<std::string> args = gdal_style_arguments(argc, argv);
    std::reverse(args.begin(), args.end());
    args.pop_back();  // CLI11 takes the arguments reversed, without the program name
    app.parse(args);
    apply_gdal_config(common.gdal_config);
    if (common.tuning.empty()) {
      const char* env = std::getenv("TERRASEG_TUNING");
      set_engine_tuning(parse_tuning(env != nullptr && *env != '\0' ? env : "measure", "TERRASEG_TUNING"));
    } else {
      set_engine_tuning(parse_tuning(common.tuning, "--tuning"));
    }
    if (common.threads > max_thread_count()) {
      throw Error("--threads " + std::to_string(common.threads) + " is more than this machine can use (at most " +
                  std::to_string(max_thread_count()) + ": 4 x its " + std::to_string(max_thread_count() / 4) +
                  " CPUs); give 0 for all of them");
    }
    for (auto& [sub, command] : commands) {
      if (sub->parsed()) return command->run();
    }
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the usage error (or the help); its own codes (105-109) mean nothing to scripts,
    // which get 1 for any error as everywhere else.
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const Interrupted& e) {
    std::cerr << "terraseg: " << e.what() << '\n';
    return 128 + e.signal_number();  // 143 for SIGTERM, 130 for SIGINT, as a shell reports them
  } catch (const Error& e) {
    std::cerr << "terraseg: error: " << e.what() << '\n';
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // The file system refused (a file where a folder should be, permissions, a full disk): the
    // user's environment, not a bug; name the path.
    std::cerr << "terraseg: error: " << e.path1().string() << ": " << e.code().message()
              << "; check that path (a file in the way of a folder? permissions? space?)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "terraseg: internal error: " << e.what() << " (please report this with the command line)\n";
    return 2;
  }
  return 0;
}

}  // namespace terraseg
