// The training history as CSV, and its curves drawn by gnuplot.

#include <ad/nn/train.hpp>

#include "files.hpp"

#include <fmt/format.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <span>

extern char** environ;

namespace ad::nn {
namespace {

// A missing figure is an empty CSV field (NaN for gnuplot, which skips it).
std::string field(double v, const char* missing) {
  return std::isnan(v) ? std::string(missing) : fmt::format("{:.6g}", v);
}

// A gnuplot single-quoted string: a quote inside is written twice.
std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

// The script drawing h into `output` (PNG, or SVG if svg).
std::string gnuplot_script(const History& h, bool svg, const std::filesystem::path& output) {
  bool accuracy = false;
  bool validation = false;
  std::string s = "$history << EOD\n";
  for (const EpochStats& e : h.epochs) {
    accuracy = accuracy || !std::isnan(e.train_accuracy) || !std::isnan(e.val_accuracy);
    validation = validation || !std::isnan(e.val_loss);
    s += fmt::format("{} {} {} {} {}\n", e.epoch, field(e.train_loss, "NaN"),
                     field(e.train_accuracy, "NaN"), field(e.val_loss, "NaN"),
                     field(e.val_accuracy, "NaN"));
  }
  s += "EOD\n";
  s += fmt::format("set terminal {} size {},420 font 'sans,10'\n", svg ? "svg dynamic" : "pngcairo",
                   accuracy ? 1100 : 600);
  s += fmt::format("set output {}\n", quoted(output.string()));
  s += "set grid\nset xlabel 'epoch'\nset key top right\n";
  if (accuracy) s += "set multiplot layout 1,2\n";
  auto panel = [&](const char* title, int train, int val) {
    s += fmt::format("set title '{}'\nplot $history using 1:{} with linespoints title 'train'",
                     title, train);
    if (validation)
      s += fmt::format(", $history using 1:{} with linespoints title 'validation'", val);
    s += "\n";
  };
  panel("loss", 2, 4);
  if (accuracy) {
    s += "set key bottom right\n";
    panel("accuracy", 3, 5);
    s += "unset multiplot\n";
  }
  return s;
}

}  // namespace

void History::write_csv(const std::filesystem::path& path) const {
  std::string text =
      "epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,learning_rate\n";
  for (const EpochStats& e : epochs) {
    text +=
        fmt::format("{},{},{},{},{},{},{}\n", e.epoch, field(e.train_loss, ""),
                    field(e.train_accuracy, ""), field(e.val_loss, ""), field(e.val_accuracy, ""),
                    field(e.seconds, ""), field(e.learning_rate, ""));
  }
  detail::write_atomically(
      path, std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

void plot_history(const History& history, const std::filesystem::path& image) {
  const auto ext = image.extension();
  if (ext != ".png" && ext != ".svg") {
    throw FileError(image, "the plot's name must end in .png or .svg");
  }
  // A script file rather than a pipe keeps gnuplot's own messages on its stderr.
  static std::atomic<int> counter{0};
  const auto script = std::filesystem::temp_directory_path() /
                      fmt::format("ad-nn-plot-{}-{}.gp", getpid(), counter++);
  // gnuplot writes a temporary beside the image, renamed over it only once gnuplot succeeds:
  // a failed or interrupted plot leaves no partly drawn image.
  detail::remove_stale_temporaries(image);
  detail::TemporaryFile drawing(image);
  drawing.close();
  {
    std::ofstream out(script);
    out << gnuplot_script(history, ext == ".svg", drawing.path());
    if (!out) throw FileError(script, "cannot be written (for gnuplot)");
  }
  std::string program = "gnuplot";
  std::string arg = script.string();
  char* argv[] = {program.data(), arg.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "gnuplot", nullptr, nullptr, argv, environ);
  int status = 0;
  if (spawned == 0) waitpid(pid, &status, 0);
  std::error_code ignored;
  std::filesystem::remove(script, ignored);
  if (spawned == ENOENT) {
    throw FileError(image,
                    "not drawn: gnuplot is not installed (on Debian: apt-get install gnuplot-nox)");
  }
  if (spawned != 0) {
    throw FileError(
        image, fmt::format("not drawn: gnuplot could not be started: {}", std::strerror(spawned)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw FileError(image, "not drawn: gnuplot failed (its messages are above)");
  }
  drawing.commit();
}

}  // namespace ad::nn
