#include "guest/debs.hpp"

#include "guest/tools.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace volant::guest {

namespace fs = std::filesystem;

namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto end = s.find(sep, start);
    out.push_back(trim(s.substr(start, end == std::string_view::npos ? s.npos : end - start)));
    if (end == std::string_view::npos)
      break;
    start = end + 1;
  }
  return out;
}

/// "libc6:any (>= 2.34) [amd64]" -> "libc6".
std::string bare_name(std::string_view item) {
  auto name = trim(item);
  auto cut = name.find_first_of(" (:[<");
  if (cut != std::string::npos)
    name = name.substr(0, cut);
  return name;
}

} // namespace

std::map<std::string, std::string> parse_control(std::string_view text) {
  std::map<std::string, std::string> out;
  std::string last;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    auto line = text.substr(start, end == std::string_view::npos ? text.npos : end - start);
    start = end == std::string_view::npos ? text.size() : end + 1;
    if (line.empty())
      continue;
    if ((line[0] == ' ' || line[0] == '\t') && !last.empty()) {
      out[last] += " " + trim(line);
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    last = trim(line.substr(0, colon));
    out[last] = trim(line.substr(colon + 1));
  }
  return out;
}

std::vector<std::vector<std::string>> parse_depends(std::string_view field) {
  std::vector<std::vector<std::string>> groups;
  if (trim(field).empty())
    return groups;
  for (const auto& group : split(field, ',')) {
    std::vector<std::string> alternatives;
    for (const auto& alt : split(group, '|'))
      if (auto name = bare_name(alt); !name.empty())
        alternatives.push_back(name);
    if (!alternatives.empty())
      groups.push_back(std::move(alternatives));
  }
  return groups;
}

expected<std::vector<deb_package>> closure(const std::vector<deb_package>& cache,
                                           const std::vector<std::string>& roots,
                                           const std::string& fetch_hint) {
  std::map<std::string, const deb_package*> by_name;
  std::map<std::string, std::vector<const deb_package*>> providers;
  for (const auto& p : cache) {
    by_name[p.name] = &p;
    for (const auto& v : p.provides)
      providers[v].push_back(&p);
  }
  std::map<std::string, const deb_package*> chosen;
  std::set<std::string> missing;
  std::vector<const deb_package*> todo;
  auto choose = [&](const std::vector<std::string>& group) {
    for (const auto& alt : group) // one already chosen satisfies the group
      if (chosen.count(alt))
        return;
    for (const auto& alt : group)
      for (const auto& [name, p] : chosen)
        if (std::find(p->provides.begin(), p->provides.end(), alt) != p->provides.end())
          return;
    const deb_package* pick = nullptr;
    for (const auto& alt : group) {
      if (auto it = by_name.find(alt); it != by_name.end()) {
        pick = it->second;
        break;
      }
    }
    if (!pick)
      for (const auto& alt : group)
        if (auto it = providers.find(alt); it != providers.end() && !it->second.empty()) {
          pick = it->second.front();
          break;
        }
    if (!pick) {
      missing.insert(group.front());
      return;
    }
    chosen[pick->name] = pick;
    todo.push_back(pick);
  };
  for (const auto& r : roots)
    choose({r});
  while (!todo.empty()) {
    auto* p = todo.back();
    todo.pop_back();
    for (const auto& group : p->depends)
      choose(group);
  }
  if (!missing.empty()) {
    std::string names;
    for (const auto& m : missing)
      names += (names.empty() ? "" : " ") + m;
    return make_error(ec::not_found, "the package cache lacks " + names + " (fetch them with: "
                                         + fetch_hint + " " + names + ")");
  }
  std::vector<deb_package> out;
  for (const auto& [name, p] : chosen)
    out.push_back(*p);
  return out;
}

expected<std::vector<deb_package>> scan_cache(const std::string& dir) {
  std::error_code ec_;
  if (!fs::is_directory(dir, ec_))
    return make_error(ec::not_found, "the package cache " + dir + " does not exist (fill it "
                                     "with: volar guest fetch PACKAGE...)");
  // The index: one line per .deb, "file size mtime" then its control fields
  // as "field\tvalue" lines, then an empty line.
  auto index_path = dir + "/.volant-index";
  std::map<std::string, std::pair<std::string, std::string>> known; // file -> (stamp, control)
  {
    std::ifstream in(index_path);
    std::string line, file, stamp, control;
    while (std::getline(in, line)) {
      if (file.empty()) {
        auto sp = line.find(' ');
        if (sp == std::string::npos)
          continue;
        file = line.substr(0, sp);
        stamp = line.substr(sp + 1);
        control.clear();
      } else if (line.empty()) {
        known[file] = {stamp, control};
        file.clear();
      } else {
        auto tab = line.find('\t');
        if (tab != std::string::npos)
          control += line.substr(0, tab) + ": " + line.substr(tab + 1) + "\n";
      }
    }
  }
  std::vector<std::pair<fs::path, fs::file_time_type>> files;
  for (const auto& e : fs::directory_iterator(dir, ec_))
    if (e.is_regular_file() && e.path().extension() == ".deb")
      files.emplace_back(e.path(), e.last_write_time());
  std::sort(files.begin(), files.end());
  std::map<std::string, deb_package> newest;
  std::map<std::string, fs::file_time_type> newest_time;
  std::ostringstream index;
  bool changed = false;
  for (const auto& [path, mtime] : files) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      continue;
    auto name = path.filename().string();
    auto stamp = std::to_string(st.st_size) + " " + std::to_string(st.st_mtime);
    std::string control;
    if (auto it = known.find(name); it != known.end() && it->second.first == stamp) {
      control = it->second.second;
    } else {
      auto out = run_tool({"dpkg-deb", "-f", path.string(), "Package", "Version", "Depends",
                           "Pre-Depends", "Provides", "Essential"});
      if (!out)
        return make_error(ec::io_error, "reading " + path.string() + ": "
                                            + out.error_value().message);
      control = *out;
      changed = true;
    }
    auto fields = parse_control(control);
    index << name << " " << stamp << "\n";
    for (const auto& [k, v] : fields)
      index << k << "\t" << v << "\n";
    index << "\n";
    deb_package p;
    p.name = fields["Package"];
    p.version = fields["Version"];
    p.file = path.string();
    p.depends = parse_depends(fields["Depends"]);
    for (auto& g : parse_depends(fields["Pre-Depends"]))
      p.depends.push_back(std::move(g));
    for (auto& g : parse_depends(fields["Provides"]))
      p.provides.push_back(g.front());
    p.essential = fields["Essential"] == "yes";
    if (p.name.empty())
      continue;
    if (!newest.count(p.name) || newest_time[p.name] < mtime) {
      newest_time[p.name] = mtime;
      newest[p.name] = std::move(p);
    }
  }
  if (changed || known.size() != files.size()) {
    auto tmp = index_path + ".tmp";
    std::ofstream(tmp) << index.str();
    fs::rename(tmp, index_path, ec_);
  }
  std::vector<deb_package> out;
  for (auto& [name, p] : newest)
    out.push_back(std::move(p));
  return out;
}

expected<std::size_t> fetch_packages(const std::string& dir,
                                     const std::vector<std::string>& packages) {
  for (const auto* tool : {"apt-cache", "apt-get"})
    if (!have_tool(tool))
      return make_error(ec::not_found, std::string(tool) + " not found: fetching needs apt");
  std::error_code ec_;
  fs::create_directories(dir, ec_);
  if (ec_)
    return make_error(ec::io_error, "cannot create " + dir + ": " + ec_.message());
  std::vector<std::string> argv = {"apt-cache", "depends", "--recurse", "--no-recommends",
                                   "--no-suggests", "--no-conflicts", "--no-breaks",
                                   "--no-replaces", "--no-enhances"};
  argv.insert(argv.end(), packages.begin(), packages.end());
  auto listing = run_tool(argv);
  if (!listing)
    return listing.error_value();
  std::set<std::string> wanted;
  std::istringstream lines(*listing);
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty() && line[0] != ' ' && line[0] != '<')
      wanted.insert(trim(line));
  // Already there (any version): not fetched again.
  std::set<std::string> have;
  for (const auto& e : fs::directory_iterator(dir, ec_)) {
    auto name = e.path().filename().string();
    if (e.path().extension() == ".deb")
      have.insert(name.substr(0, name.find('_')));
  }
  std::vector<std::string> get = {"apt-get", "download", "-q"};
  for (const auto& w : wanted)
    if (!have.count(w))
      get.push_back(w);
  std::size_t count = get.size() - 3;
  if (count == 0)
    return count;
  // apt-get download writes into the working directory: run it there.
  std::vector<std::string> in_dir = {"sh", "-c", "cd \"$0\" && exec \"$@\"", dir};
  in_dir.insert(in_dir.end(), get.begin(), get.end());
  if (auto st = run_tool(in_dir); !st)
    return st.error_value();
  return count;
}

} // namespace volant::guest
