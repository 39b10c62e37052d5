#pragma once
// The interactive terminal of the original design, on the io_context thread: readline line
// editing and history when stdin is a terminal (its callback interface, so the network keeps
// running while the user types), plain line reading from a pipe or script otherwise.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "realnet/asio.hpp"
#include "realnet/line_writer.hpp"

namespace swarmlab::realnet {

class Terminal {
 public:
  using Args = std::vector<std::string>;
  using Handler = std::function<void(const Args&)>;

  /// Without a terminal on stdin, what the commands print goes to `out`, which never holds
  /// up the network thread.
  Terminal(boost::asio::io_context& io, std::string prompt, LineWriter& out);
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  /// Registers `name` taking between min_args and max_args arguments. `usage` shows the
  /// arguments ("<ip> <port>"); `help` is the one-line description.
  void add(const std::string& name, const std::string& usage, const std::string& help,
           std::size_t min_args, std::size_t max_args, Handler handler);
  /// At a prompt: history read from `path` at start and saved there at the end (the last
  /// 1000 lines), so arrow-up and Ctrl-R reach earlier sessions. "" keeps none.
  void keep_history(std::string path) { history_file_ = std::move(path); }
  void start();
  void stop();
  /// At a prompt, the console's log lines come through print() (they would land on the
  /// prompt and the typing otherwise), until this terminal is destroyed.
  void take_console_log();
  /// Whether a terminal on stdin would prompt (readline): then it takes Ctrl-C itself.
  static bool would_prompt();
  /// Ctrl-C at the prompt: drops the line being typed.
  void interrupt();
  /// Prints a line without disturbing what the user is typing.
  void print(const std::string& text);
  /// A live status (the progress bar) shown in front of the prompt; "" removes it.
  void set_status(const std::string& status);
  bool interactive() const { return interactive_; }
  /// Showing a readline prompt now (what is printed must lift it).
  bool prompting() const { return interactive_ && running_; }
  /// Columns of the terminal on stdout (80 when it cannot tell).
  static int width();
  /// Called when input ends (Ctrl-D, end of script).
  std::function<void()> on_end;

  /// From a command's handler: the command is answered later (by the tracker, the swarm), and
  /// a script's next line waits for answered(what), or for `limit` if set, so piped commands
  /// run as if typed one after another's answer. At a prompt the user decides: no effect.
  void await_answer(const std::string& what,
                    std::optional<std::chrono::seconds> limit = std::nullopt);
  /// The answer to `what` has come (said before the script goes on).
  void answered(const std::string& what);

  /// Splits a command line into words; "double quotes" group words with spaces.
  static Args split(const std::string& line);

 private:
  struct Command {
    std::string usage, help;
    std::size_t min_args, max_args;
    Handler handler;
  };
  void wait_readable();
  void read_line();
  void execute(const std::string& line);
  void print_help();
  static void on_readline(char* line);
  /// Tab: command names for the first word, file names after it.
  static char** complete(const char* text, int start, int end);
  static char* command_names(const char* text, int state);

  boost::asio::io_context& io_;
  LineWriter& out_;
  boost::asio::posix::stream_descriptor input_;
  boost::asio::streambuf buffer_;
  std::string prompt_;
  std::string history_file_;
  std::string status_;
  bool interactive_;
  bool running_ = false;
  bool in_command_ = false;  // inside a command typed at the readline prompt
  std::string awaited_;      // what the script waits for before its next line; "" if nothing
  boost::asio::steady_timer await_timer_;
  // At a prompt: SIGWINCH (redraw for the new width) and SIGINT (Ctrl-C drops the typed line,
  // as a shell's does; the program goes on). Programs leave SIGINT to the terminal then.
  boost::asio::signal_set prompt_signals_;
  void wait_prompt_signal();
  bool input_ended_ = false;
  bool took_log_ = false;  // take_console_log()  // the script ended: after its last answer, on_end
  std::map<std::string, Command> commands_;
  std::vector<std::string> order_;
};

}  // namespace swarmlab::realnet
