#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "environment/error.hpp"
#include "environment/requirement.hpp"

namespace environment {

// Texts of files that requirements (-r/-c) reference, keyed by include_key().
using Includes = std::map<std::string, std::string>;

// The key under which a file referenced as `ref` from `from_file` is found in Includes: the
// path relative to the directory of `from_file`, lexically normalised ("a/../b" -> "b").
std::string include_key(std::string_view from_file, std::string_view ref);

// The paths (as written) of -r/--requirement and -c/--constraint lines in a requirements text.
// Used by the file loader to know what to read; malformed lines are left to the parser.
std::vector<std::string> include_references(std::string_view requirements_text);

struct PipEntry {
    Requirement requirement;
    std::string file;
    int line = 0;
};

struct EditableEntry {
    std::string target;  // path or VCS URL, as written
    std::string file;
    int line = 0;
};

// Every pip input of an environment: requirements files, -r includes and the conda `pip:` list.
struct PipDependencies {
    std::vector<PipEntry> requirements;
    std::vector<PipEntry> constraints;       // from -c files
    std::vector<std::string> index_options;  // "--index-url URL", "--extra-index-url URL", in order
    std::vector<std::string> other_options;  // "--pre", "--find-links URL", ... in order
    std::vector<EditableEntry> editables;

    bool empty() const { return requirements.empty() && constraints.empty() && editables.empty(); }
};

// Reads requirements files and single requirement lines into a PipDependencies.
class RequirementsReader {
  public:
    RequirementsReader(const Includes& includes, PipDependencies& out)
        : m_includes(includes), m_out(out) {}

    // A whole requirements.txt: comments, line continuations, options, -r/-c includes.
    boost::system::result<void, Error> read_file(std::string_view name, std::string_view text);
    // One logical line written at `file`:`line` (a conda `pip:` entry); includes are relative
    // to `file`.
    boost::system::result<void, Error> read_line(std::string_view file, int line,
                                                 std::string_view text);

  private:
    boost::system::result<void, Error> read(std::string_view name, std::string_view text,
                                            bool constraints);
    boost::system::result<void, Error> line(std::string_view file, int line_no,
                                            std::string_view text, bool constraints);
    boost::system::result<void, Error> include(std::string_view file, int line_no,
                                               std::string_view ref, bool constraints);

    const Includes& m_includes;
    PipDependencies& m_out;
    std::vector<std::string> m_open;  // include stack, to refuse cycles
};

}  // namespace environment
