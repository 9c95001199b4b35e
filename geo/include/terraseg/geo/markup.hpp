#pragma once
/// Escaping text for XML and HTML outputs (QGIS styles, the run report).
#include <string>

namespace terraseg::geo {

/// `text` with & < > " escaped, safe in element text and in double-quoted attribute values.
inline std::string escape_markup(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace terraseg::geo
