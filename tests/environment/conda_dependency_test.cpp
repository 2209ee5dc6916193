#include "environment/conda_dependency.hpp"

#include <catch2/catch.hpp>

using namespace environment;

TEST_CASE("conda match specs parse into channel, name, version, build", "[environment]") {
    struct Row {
        const char* spec;
        const char* channel;
        const char* name;
        const char* version;
        const char* build;
        const char* canonical;
        PinKind pin;
    };
    const Row rows[] = {
        {"numpy", "", "numpy", "", "", "numpy", PinKind::unpinned},
        {"NumPy", "", "numpy", "", "", "numpy", PinKind::unpinned},
        {"numpy=1.26.4", "", "numpy", "=1.26.4", "", "numpy=1.26.4", PinKind::exact},
        {"numpy==1.26.4", "", "numpy", "==1.26.4", "", "numpy==1.26.4", PinKind::exact},
        {"numpy 1.26.4", "", "numpy", "==1.26.4", "", "numpy==1.26.4", PinKind::exact},
        {"numpy = 1.26.4", "", "numpy", "=1.26.4", "", "numpy=1.26.4", PinKind::exact},
        {"python=3.11", "", "python", "=3.11", "", "python=3.11", PinKind::partial},
        {"python=3.11.*", "", "python", "=3.11", "", "python=3.11", PinKind::partial},
        {"python 3.11.*", "", "python", "=3.11", "", "python=3.11", PinKind::partial},
        {"python==3.11.*", "", "python", "=3.11", "", "python=3.11", PinKind::partial},
        {"pytorch::pytorch", "pytorch", "pytorch", "", "", "pytorch::pytorch", PinKind::unpinned},
        {"conda-forge::numpy>=1.20,<2", "conda-forge", "numpy", "<2,>=1.20", "",
         "conda-forge::numpy<2,>=1.20", PinKind::range},
        {"numpy>=1.20, <2", "", "numpy", "<2,>=1.20", "", "numpy<2,>=1.20", PinKind::range},
        {"numpy <2,>=1.20", "", "numpy", "<2,>=1.20", "", "numpy<2,>=1.20", PinKind::range},
        {"numpy=1.26.4=py311h64a7726_0", "", "numpy", "==1.26.4", "py311h64a7726_0",
         "numpy==1.26.4=py311h64a7726_0", PinKind::exact},
        {"numpy==1.26.4=py311h64a7726_0", "", "numpy", "==1.26.4", "py311h64a7726_0",
         "numpy==1.26.4=py311h64a7726_0", PinKind::exact},
        {"numpy 1.26.4 py311h64a7726_0", "", "numpy", "==1.26.4", "py311h64a7726_0",
         "numpy==1.26.4=py311h64a7726_0", PinKind::exact},
        {"numpy[version='>=1.20']", "", "numpy", ">=1.20", "", "numpy>=1.20", PinKind::range},
        {"numpy=*", "", "numpy", "", "", "numpy", PinKind::unpinned},
        {"libgcc-ng>=12", "", "libgcc-ng", ">=12", "", "libgcc-ng>=12", PinKind::range},
        {"python-dateutil", "", "python-dateutil", "", "", "python-dateutil", PinKind::unpinned},
    };
    for (const auto& row : rows) {
        INFO(row.spec);
        auto dep = parse_conda_dependency(row.spec);
        REQUIRE(dep.has_value());
        CHECK(dep->channel == row.channel);
        CHECK(dep->name == row.name);
        CHECK(dep->version == row.version);
        CHECK(dep->build == row.build);
        CHECK(dep->canonical() == row.canonical);
        CHECK(dep->pin() == row.pin);
    }
}

TEST_CASE("conda names keep '-' and '_' apart but are lower-cased", "[environment]") {
    CHECK(parse_conda_dependency("Python_Dateutil")->name == "python_dateutil");
    CHECK(parse_conda_dependency("python-dateutil")->name == "python-dateutil");
}

TEST_CASE("malformed conda match specs are errors", "[environment]") {
    for (const char* spec : {"", "   ", "=1.2", "::numpy", "numpy 1 2 3", "numpy[version='1'",
                             "numpy==", "numpy[flavour=x]"}) {
        INFO(spec);
        CHECK_FALSE(parse_conda_dependency(spec).has_value());
    }
}
