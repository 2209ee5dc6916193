#include "proxy/server/response_head.hpp"

#include <charconv>

namespace proxy::server {

namespace http = boost::beast::http;

namespace {

// A plain loop: find_first_of would call memchr on the two-character set once per character.
bool has_line_break(std::string_view text) {
    for (const char c : text)
        if (c == '\r' || c == '\n') return true;
    return false;
}

void append_number(std::string& out, std::uint64_t value, int base = 10) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, value, base).ptr;
    out.append(digits, end);
}

void append_status_line(std::string& out, http::status status, unsigned version) {
    out += "HTTP/";
    append_number(out, version / 10);
    out += '.';
    append_number(out, version % 10);
    out += ' ';
    append_number(out, static_cast<unsigned>(status));
    out += ' ';
    out += http::obsolete_reason(status);
    out += "\r\n";
}

// Connection and the framing fields, then the blank line that ends the head.
void append_framing(std::string& out, unsigned version, std::optional<std::uint64_t> length,
                    bool keep_alive) {
    if (version >= 11 && !keep_alive) out += "Connection: close\r\n";
    if (version < 11 && keep_alive) out += "Connection: keep-alive\r\n";
    if (length) {
        out += "Content-Length: ";
        append_number(out, *length);
        out += "\r\n";
    } else if (version >= 11) {
        out += "Transfer-Encoding: chunked\r\n";
    }  // HTTP/1.0 has no chunked coding: the body ends when the connection does
    out += "\r\n";
}

}  // namespace

void append_fields(std::string& out, const http::fields& headers) {
    for (const auto& field : headers) {
        const auto name = field.name();
        if (name == http::field::connection || name == http::field::content_length ||
            name == http::field::transfer_encoding)
            continue;
        if (has_line_break(field.name_string()) || has_line_break(field.value())) continue;
        out += field.name_string();
        out += ": ";
        out += field.value();
        out += "\r\n";
    }
}

void append_response_head(std::string& out, http::status status, unsigned version,
                          const http::fields& headers, std::optional<std::uint64_t> length,
                          bool keep_alive) {
    append_status_line(out, status, version);
    append_fields(out, headers);
    append_framing(out, version, length, keep_alive);
}

void append_response_head(std::string& out, http::status status, unsigned version,
                          std::string_view rendered_fields, std::optional<std::uint64_t> length,
                          bool keep_alive) {
    append_status_line(out, status, version);
    out += rendered_fields;
    append_framing(out, version, length, keep_alive);
}

std::string chunk_prefix(std::size_t size) {
    std::string out;
    append_number(out, size, 16);
    out += "\r\n";
    return out;
}

}  // namespace proxy::server
