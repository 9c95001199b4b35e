#include "terraseg/pipeline/cli.hpp"

int main(int argc, char** argv) { return terraseg::run_cli(argc, argv); }
