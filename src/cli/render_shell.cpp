#include "cli/render_shell.hpp"

#include "cli/render.hpp"
#include "wire/json.hpp"
#include "wire/table.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <vector>

namespace volant::cli {

using json = nlohmann::json;

namespace {

constexpr std::size_t kind_width = 20;
constexpr std::size_t aggregate_width = 16;
constexpr std::size_t max_details = 200;

bool is_scalar(const json& v) {
  return !v.is_object() && !v.is_array();
}

std::string scalar_text(const json& v) {
  if (v.is_null())
    return "-";
  if (v.is_string())
    return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  if (v.is_boolean())
    return v.get<bool>() ? "true" : "false";
  if (v.is_number_float()) {
    // Rates and durations: three decimals are plenty, trailing zeros dropped.
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v.get<double>());
    std::string text = buf;
    while (text.ends_with("0"))
      text.pop_back();
    if (text.ends_with("."))
      text.pop_back();
    return text == "-0" ? "0" : text;
  }
  if (is_scalar(v))
    return v.dump();
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string padded(std::string s, std::size_t width) {
  if (s.size() < width)
    s.append(width - s.size(), ' ');
  return s;
}

std::string upper(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

/// The keys of an object, "actor" and "name" first.
std::vector<std::string> ordered_keys(const json& obj) {
  std::vector<std::string> keys;
  for (const char* first : {"actor", "name"})
    if (obj.contains(first))
      keys.emplace_back(first);
  for (const auto& [k, v] : obj.items())
    if (k != "actor" && k != "name")
      keys.push_back(k);
  return keys;
}

/// Objects whose values are all scalars: one row each.
bool table_like(const json& arr) {
  if (!arr.is_array() || arr.empty())
    return false;
  for (const auto& el : arr) {
    if (!el.is_object() || el.empty())
      return false;
    for (const auto& [k, v] : el.items())
      if (!is_scalar(v))
        return false;
  }
  return true;
}

std::string indent_lines(const std::string& text, std::size_t indent) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos)
      end = text.size();
    auto line = text.substr(start, end - start);
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += std::string(indent, ' ') + line + "\n";
    start = end + 1;
  }
  return out;
}

std::string small_table(const json& arr, std::size_t indent) {
  std::vector<std::string> columns;
  for (const auto& el : arr)
    for (const auto& key : ordered_keys(el))
      if (std::find(columns.begin(), columns.end(), key) == columns.end())
        columns.push_back(key);
  std::vector<std::string> header;
  for (const auto& c : columns)
    header.push_back(upper(c));
  wire::table t(header);
  for (const auto& el : arr) {
    std::vector<std::string> row;
    for (const auto& c : columns)
      row.push_back(el.contains(c) ? scalar_text(el[c]) : "-");
    t.add_row(std::move(row));
  }
  return indent_lines(t.render(), indent);
}

void render_object(std::string& out, const json& obj, std::size_t indent);

/// A value under `head` ("key:" already indented), aligned at `column`.
void render_value(std::string& out, const std::string& head,
                  std::size_t column, const json& v, std::size_t indent) {
  auto inline_value = [&](const std::string& text) {
    out += padded(head, column) + " " + text + "\n";
  };
  if (is_scalar(v)) {
    inline_value(scalar_text(v));
  } else if (v.empty()) {
    inline_value("-");
  } else if (v.is_object()) {
    out += head + "\n";
    render_object(out, v, indent + 2);
  } else if (std::all_of(v.begin(), v.end(), is_scalar)) {
    std::string joined;
    for (const auto& el : v)
      joined += (joined.empty() ? "" : ", ") + scalar_text(el);
    inline_value(joined);
  } else if (table_like(v)) {
    out += head + "\n" + small_table(v, indent + 2);
  } else {
    out += head + "\n";
    for (const auto& el : v) {
      if (el.is_object() && !el.empty()) {
        out += std::string(indent + 2, ' ') + "-\n";
        render_object(out, el, indent + 4);
      } else {
        out += std::string(indent + 2, ' ') + "- " + scalar_text(el) + "\n";
      }
    }
  }
}

void render_object(std::string& out, const json& obj, std::size_t indent) {
  auto keys = ordered_keys(obj);
  std::size_t column = 0;
  for (const auto& k : keys)
    column = std::max(column, indent + k.size() + 1);
  for (const auto& k : keys)
    render_value(out, std::string(indent, ' ') + k + ":", column, obj[k],
                 indent);
}

const json& list_in(const json& reply, const char* key) {
  if (reply.is_object() && reply.contains(key))
    return reply[key];
  return reply;
}

} // namespace

std::string clock_of(const json& time, bool millis) {
  if (!time.is_string())
    return "-";
  const auto& text = time.get_ref<const std::string&>();
  if (!wire::parse_time(text) || text.size() < 19)
    return "-";
  auto out = text.substr(11, 8);
  if (millis) {
    std::string frac = text.size() > 20 && text[19] == '.'
                           ? text.substr(20, 3)
                           : std::string();
    while (frac.size() < 3)
      frac += '0';
    for (auto& c : frac)
      if (c < '0' || c > '9')
        c = '0';
    out += "." + frac;
  }
  return out;
}

std::string render_ls(const json& reply) {
  wire::table t({"KIND", "NAME", "STATUS", "MAILBOX", "UPTIME", "RESTARTS"});
  const auto& list = list_in(reply, "actors");
  if (list.is_array())
    for (const auto& a : list) {
      const auto& up = member(a, "uptime_s");
      t.add_row({field_text(a, "kind"), field_text(a, "name"),
                 field_text(a, "status"), field_text(a, "mailbox"),
                 up.is_number() ? format_age(up.get<std::int64_t>())
                                : std::string("-"),
                 field_text(a, "restarts", "0")});
    }
  return t.render();
}

std::string render_inspect(const json& reply) {
  std::string out;
  if (reply.is_object())
    render_object(out, reply, 0);
  else if (table_like(reply))
    out = small_table(reply, 0);
  else
    render_value(out, "", 0, reply, 0);
  return out;
}

std::string event_line(const json& ev) {
  auto id = field_text(ev, "id", "");
  auto aggregate = field_text(ev, "aggregate", "");
  auto object = aggregate.empty() ? (id.empty() ? "-" : id)
                                  : aggregate + "/" + id;
  json fields = member(ev, "fields");
  std::string details;
  if (fields.is_object()) {
    // The aggregate column names it already.
    if (auto it = fields.find("name");
        it != fields.end() && it->is_string() && it->get<std::string>() == id)
      fields.erase(it);
    details = wire::to_fields_line(fields);
    if (details.size() > max_details)
      details = details.substr(0, max_details - 3) + "...";
  }
  auto line = field_text(ev, "seq") + "  " + clock_of(member(ev, "at"), true)
              + "  " + padded(field_text(ev, "event"), kind_width) + "  "
              + padded(object, aggregate_width) + "  " + details;
  while (!line.empty() && line.back() == ' ')
    line.pop_back();
  return line;
}

std::string render_events(const json& reply) {
  std::string out;
  const auto& events = list_in(reply, "events");
  if (events.is_array())
    for (const auto& ev : events)
      out += event_line(ev) + "\n";
  return out;
}

std::string render_state(const json& reply) {
  const auto& at = member(reply, "at");
  unix_nanos as_of = 0;
  if (at.is_string())
    as_of = wire::parse_time(at.get<std::string>()).value_or(0);
  std::string out = "State at seq " + field_text(reply, "seq") + " ("
                    + field_text(reply, "at") + ")\n";
  json deployments = json::array();
  if (reply.is_object() && reply.contains("deployment")) {
    if (reply["deployment"].is_object())
      deployments.push_back(reply["deployment"]);
  } else if (member(reply, "deployments").is_array()) {
    deployments = reply["deployments"];
  }
  out += "\nDeployments:\n";
  out += deployments.empty() ? std::string("  (none)\n")
                             : render_deployments(deployments, as_of);
  const auto& vms = member(reply, "vms");
  out += "\nVMs:\n";
  out += !vms.is_array() || vms.empty() ? std::string("  (none)\n")
                                        : render_vms(vms, as_of, false);
  return out;
}

std::string render_explain(const json& reply) {
  std::string out = field_text(reply, "summary") + "\n";
  const auto& chain = member(reply, "chain");
  if (chain.is_array())
    for (const auto& step : chain)
      out += "  #" + field_text(step, "seq") + " "
             + clock_of(member(step, "at")) + "  " + field_text(step, "text")
             + "\n";
  return out;
}

} // namespace volant::cli
