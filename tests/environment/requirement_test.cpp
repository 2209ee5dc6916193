#include "environment/requirement.hpp"

#include <catch2/catch.hpp>

#include "environment/pip_dependencies.hpp"

using namespace environment;

TEST_CASE("pip names are normalised as PEP 503 says", "[environment]") {
    CHECK(normalize_pip_name("NumPy") == "numpy");
    CHECK(normalize_pip_name("scikit_learn") == "scikit-learn");
    CHECK(normalize_pip_name("Zope.Interface") == "zope-interface");
    CHECK(normalize_pip_name("a__-._b") == "a-b");
    CHECK(normalize_pip_name("ruamel.yaml.clib") == "ruamel-yaml-clib");
}

TEST_CASE("PEP 508 requirements parse into normalised parts", "[environment]") {
    struct Row {
        const char* line;
        const char* canonical;
        PinKind pin;
    };
    const Row rows[] = {
        {"numpy", "numpy", PinKind::unpinned},
        {"NumPy == 1.26.4", "numpy==1.26.4", PinKind::exact},
        {"numpy==1.26.*", "numpy==1.26.*", PinKind::partial},
        {"pandas>=1.3", "pandas>=1.3", PinKind::range},
        {"numpy >= 1.20 , < 2", "numpy<2,>=1.20", PinKind::range},
        {"numpy (>=1.20,<2)", "numpy<2,>=1.20", PinKind::range},
        {"requests~=2.31", "requests~=2.31", PinKind::range},
        {"Requests[Socks, security]==2.31.0", "requests[security,socks]==2.31.0", PinKind::exact},
        {"torch===2.1.0+cu121", "torch===2.1.0+cu121", PinKind::exact},
        {"Django==4.2.0RC1", "django==4.2.0rc1", PinKind::exact},
        {"tomli==2.0.1; python_version < \"3.11\"", "tomli==2.0.1;python_version<\"3.11\"",
         PinKind::exact},
        {"pywin32==306 ; sys_platform == 'win32' and python_version>='3.8'",
         "pywin32==306;sys_platform=='win32' and python_version>='3.8'", PinKind::exact},
        {"pkg @ https://example.com/pkg-1.0.tar.gz", "pkg@https://example.com/pkg-1.0.tar.gz",
         PinKind::direct},
        {"numpy==1.26.4 --hash=sha256:bbb --hash=sha256:aaa",
         "numpy==1.26.4 --hash=sha256:aaa --hash=sha256:bbb", PinKind::exact},
    };
    for (const auto& row : rows) {
        INFO(row.line);
        auto req = parse_requirement(row.line);
        REQUIRE(req.has_value());
        CHECK(req->canonical() == row.canonical);
        CHECK(req->pin() == row.pin);
    }
}

TEST_CASE("malformed requirements are errors", "[environment]") {
    for (const char* line : {"==1.0", "numpy=1.0", "numpy>>1", "numpy[extra", "pkg @",
                             "numpy==1; python_version < \"3", "numpy --frobnicate"}) {
        INFO(line);
        CHECK_FALSE(parse_requirement(line).has_value());
    }
}

TEST_CASE("a requirements file is read with comments, continuations and options", "[environment]") {
    const Includes includes;
    PipDependencies pip;
    RequirementsReader reader(includes, pip);
    auto r = reader.read_file("requirements.txt",
                              "# pinned for the trainer\n"
                              "--index-url https://pypi.example.com/simple\n"
                              "--extra-index-url=https://extra.example.com/simple\n"
                              "\n"
                              "numpy==1.26.4  # the array library\n"
                              "scikit-learn==1.4.2 \\\n"
                              "    --hash=sha256:abc\n"
                              "--pre\n"
                              "-e git+https://github.com/org/pkg@abc123#egg=pkg\n"
                              "pandas>=1.3\n");
    REQUIRE(r.has_value());
    REQUIRE(pip.requirements.size() == 3);
    CHECK(pip.requirements[0].requirement.canonical() == "numpy==1.26.4");
    CHECK(pip.requirements[0].line == 5);
    CHECK(pip.requirements[1].requirement.canonical() == "scikit-learn==1.4.2 --hash=sha256:abc");
    CHECK(pip.requirements[1].line == 6);
    CHECK(pip.requirements[2].line == 10);
    CHECK(pip.index_options ==
          std::vector<std::string>{"--index-url https://pypi.example.com/simple",
                                   "--extra-index-url https://extra.example.com/simple"});
    CHECK(pip.other_options == std::vector<std::string>{"--pre"});
    REQUIRE(pip.editables.size() == 1);
    CHECK(pip.editables[0].target == "git+https://github.com/org/pkg@abc123#egg=pkg");
}

TEST_CASE("requirement includes are read relative to the including file", "[environment]") {
    const Includes includes = {
        {"deps/base.txt", "numpy==1.26.4\n-r more/extra.txt\n"},
        {"deps/more/extra.txt", "pandas==2.2.2\n"},
        {"deps/constraints.txt", "scipy==1.13.0\n"},
    };
    PipDependencies pip;
    RequirementsReader reader(includes, pip);
    auto r = reader.read_file("deps/requirements.txt",
                              "-r base.txt\n--constraint ./constraints.txt\nscipy\n");
    REQUIRE(r.has_value());
    REQUIRE(pip.requirements.size() == 3);
    CHECK(pip.requirements[0].requirement.name == "numpy");
    CHECK(pip.requirements[0].file == "deps/base.txt");
    CHECK(pip.requirements[0].line == 1);
    CHECK(pip.requirements[1].requirement.name == "pandas");
    CHECK(pip.requirements[1].file == "deps/more/extra.txt");
    REQUIRE(pip.constraints.size() == 1);
    CHECK(pip.constraints[0].requirement.canonical() == "scipy==1.13.0");
    CHECK(include_key("deps/requirements.txt", "../x.txt") == "x.txt");
}

TEST_CASE("a missing include is an error naming the file and line", "[environment]") {
    const Includes includes;
    PipDependencies pip;
    RequirementsReader reader(includes, pip);
    auto r = reader.read_file("requirements.txt", "numpy==1.26.4\n-r other.txt\n");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().file == "requirements.txt");
    CHECK(r.error().line == 2);
    CHECK(r.error().message.find("other.txt") != std::string::npos);
}

TEST_CASE("an include cycle is an error, not a hang", "[environment]") {
    const Includes includes = {{"a.txt", "-r b.txt\n"}, {"b.txt", "-r a.txt\n"}};
    PipDependencies pip;
    RequirementsReader reader(includes, pip);
    auto r = reader.read_file("a.txt", includes.at("a.txt"));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("cycle") != std::string::npos);
}

TEST_CASE("a bad requirements line is an error with its line", "[environment]") {
    const Includes includes;
    PipDependencies pip;
    RequirementsReader reader(includes, pip);
    auto r = reader.read_file("requirements.txt", "numpy==1\n\n# x\nnumpy>>2\n");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().line == 4);
    CHECK(reader.read_file("r.txt", "--no-such-option\n").has_value() == false);
}

TEST_CASE("include_references lists -r and -c paths for the file loader", "[environment]") {
    CHECK(include_references("-r a.txt\nnumpy\n--requirement=b.txt\n-c c.txt\n# -r no.txt\n") ==
          std::vector<std::string>{"a.txt", "b.txt", "c.txt"});
}
