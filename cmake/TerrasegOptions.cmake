# Compiler flags shared by every terraseg target, applied through terraseg_warnings.
add_library(terraseg_warnings INTERFACE)
target_compile_options(terraseg_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<BOOL:${TERRASEG_WERROR}>:-Werror>
  # GCC 12 reports -Wrestrict false positives inside std::string concatenation at -O3 (GCC bug 105329).
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)

if(TERRASEG_SANITIZE)
  target_compile_options(terraseg_warnings INTERFACE -fsanitize=${TERRASEG_SANITIZE} -fno-omit-frame-pointer)
  target_link_options(terraseg_warnings INTERFACE -fsanitize=${TERRASEG_SANITIZE})
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
endif()
