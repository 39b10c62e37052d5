#include "realnet/terminal.hpp"

#include <readline/history.h>
#include <readline/readline.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "realnet/program_support.hpp"

namespace swarmlab::realnet {
namespace {
// readline's callback interface takes a plain function: it reaches the one terminal here.
Terminal* g_terminal = nullptr;
}  // namespace

Terminal::Terminal(boost::asio::io_context& io, std::string prompt, LineWriter& out)
    : io_(io),
      out_(out),
      input_(io, ::dup(STDIN_FILENO)),
      prompt_(std::move(prompt)),
      interactive_(would_prompt()),
      await_timer_(io),
      prompt_signals_(io) {
  add("help", "", "list the commands", 0, 0, [this](const Args&) { print_help(); });
}

Terminal::~Terminal() {
  stop();
  if (took_log_) give_back_console_log();
}

void Terminal::take_console_log() {
  if (!interactive_ || took_log_) return;
  took_log_ = true;
  print_console_log_through([this](const std::string& line) {
    if (!prompting()) return false;
    print(line);
    return true;
  });
}

void Terminal::add(const std::string& name, const std::string& usage, const std::string& help,
                   std::size_t min_args, std::size_t max_args, Handler handler) {
  if (commands_.count(name) == 0) order_.push_back(name);
  commands_[name] = Command{usage, help, min_args, max_args, std::move(handler)};
}

void Terminal::start() {
  running_ = true;
  if (interactive_) {
    g_terminal = this;
    rl_attempted_completion_function = &Terminal::complete;
    if (!history_file_.empty()) read_history(history_file_.c_str());  // none yet is fine
    rl_callback_handler_install(prompt_.c_str(), &Terminal::on_readline);
    prompt_signals_.add(SIGWINCH);
    prompt_signals_.add(SIGINT);
    wait_prompt_signal();
    wait_readable();
  } else {
    read_line();
  }
}

void Terminal::stop() {
  if (!running_) return;
  running_ = false;
  await_timer_.cancel();
  boost::system::error_code ec;
  prompt_signals_.cancel(ec);
  input_.cancel(ec);
  input_.close(ec);
  if (interactive_) {
    rl_callback_handler_remove();
    if (!history_file_.empty() && write_history(history_file_.c_str()) == 0) {
      history_truncate_file(history_file_.c_str(), 1000);
    }
    g_terminal = nullptr;
    std::cout << std::endl;
  }
}

// A resized window: readline redraws the prompt line for the new width, or the old bar and
// the prompt overwrite each other. Ctrl-C: interrupt().
void Terminal::wait_prompt_signal() {
  prompt_signals_.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec || !running_) return;
    if (sig == SIGINT) {
      interrupt();
    } else {
      rl_resize_terminal();
    }
    wait_prompt_signal();
  });
}

void Terminal::wait_readable() {
  input_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](boost::system::error_code ec) {
                      if (ec || !running_) return;
                      rl_callback_read_char();  // may call on_readline, which may stop us
                      if (running_) wait_readable();
                    });
}

char** Terminal::complete(const char* text, int start, int) {
  if (start > 0) return nullptr;  // readline's own file-name completion
  return rl_completion_matches(text, &Terminal::command_names);
}

char* Terminal::command_names(const char* text, int state) {
  static std::vector<std::string> matches;
  static std::size_t next = 0;
  if (state == 0) {
    matches.clear();
    next = 0;
    if (g_terminal == nullptr) return nullptr;
    const std::string prefix(text);
    for (const auto& name : g_terminal->order_) {
      if (name.compare(0, prefix.size(), prefix) == 0) matches.push_back(name);
    }
  }
  if (next >= matches.size()) return nullptr;
  return ::strdup(matches[next++].c_str());  // readline frees it
}

void Terminal::on_readline(char* line) {
  Terminal* self = g_terminal;
  if (self == nullptr) return;
  if (line == nullptr) {  // Ctrl-D
    if (self->on_end) self->on_end();
    return;
  }
  const std::string text(line);
  std::free(line);
  if (!split(text).empty()) add_history(text.c_str());
  // readline has ended the line and shows no prompt until we return: what the command
  // prints goes straight out, with nothing to lift and put back.
  self->in_command_ = true;
  self->execute(text);
  self->in_command_ = false;
}

void Terminal::read_line() {
  boost::asio::async_read_until(
      input_, buffer_, '\n', [this](boost::system::error_code ec, std::size_t n) {
        if (!running_) return;
        if (ec && n == 0) {
          // End of a script: let a last line without a newline count too.
          if (buffer_.size() > 0) {
            std::string rest(boost::asio::buffers_begin(buffer_.data()),
                             boost::asio::buffers_end(buffer_.data()));
            buffer_.consume(buffer_.size());
            execute(rest);
          }
          input_ended_ = true;
          if (awaited_.empty() && on_end) on_end();
          return;
        }
        std::string line(
            boost::asio::buffers_begin(buffer_.data()),
            boost::asio::buffers_begin(buffer_.data()) + static_cast<std::ptrdiff_t>(n));
        buffer_.consume(n);
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
        execute(line);
        if (running_ && awaited_.empty()) read_line();
      });
}

void Terminal::await_answer(const std::string& what, std::optional<std::chrono::seconds> limit) {
  if (interactive_ || !running_) return;
  awaited_ = what;
  if (!limit) return;
  await_timer_.expires_after(*limit);
  await_timer_.async_wait([this, what, s = limit->count()](boost::system::error_code ec) {
    if (ec || awaited_ != what) return;
    print("No answer to " + what + " after " + std::to_string(s) + " s; going on.");
    answered(what);
  });
}

void Terminal::answered(const std::string& what) {
  if (awaited_.empty() || awaited_ != what) return;
  awaited_.clear();
  await_timer_.cancel();
  // Not from inside the notice that answered: the next line runs on a fresh handler.
  boost::asio::post(io_, [this] {
    if (!running_ || !awaited_.empty()) return;
    if (!input_ended_) return read_line();
    if (on_end) on_end();
  });
}

Terminal::Args Terminal::split(const std::string& line) {
  Args out;
  std::string cur;
  bool quoted = false, any = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
      any = true;
    } else if ((c == ' ' || c == '\t') && !quoted) {
      if (any) out.push_back(cur);
      cur.clear();
      any = false;
    } else {
      cur += c;
      any = true;
    }
  }
  if (any) out.push_back(cur);
  return out;
}

void Terminal::execute(const std::string& line) {
  auto words = split(line);
  if (words.empty()) return;
  std::string name = words.front();
  words.erase(words.begin());
  if (name == "?") name = "help";
  const auto it = commands_.find(name);
  if (it == commands_.end()) {
    print("Unknown command '" + name + "'. Type help or ? for the list of commands.");
    return;
  }
  const auto& cmd = it->second;
  if (words.size() < cmd.min_args || words.size() > cmd.max_args) {
    print("Usage: " + name + (cmd.usage.empty() ? "" : " " + cmd.usage));
    return;
  }
  cmd.handler(words);
}

void Terminal::print_help() {
  std::size_t width = 0;
  for (const auto& name : order_) {
    const auto& c = commands_.at(name);
    width = std::max(width, name.size() + (c.usage.empty() ? 0 : c.usage.size() + 1));
  }
  std::string out = "Commands:";
  for (const auto& name : order_) {
    const auto& c = commands_.at(name);
    std::string left = name + (c.usage.empty() ? "" : " " + c.usage);
    left.resize(width, ' ');
    out += "\n  " + left + "  " + c.help;
  }
  out += "\n  ?" + std::string(width - 1, ' ') + "  same as help";
  print(out);
}

void Terminal::print(const std::string& text) {
  if (!interactive_ || !running_) {
    out_.write(text);
    return;
  }
  if (in_command_) {
    std::cout << text << std::endl;
    return;
  }
  // Lift the prompt and the half-typed line, print, then put them back.
  const int point = rl_point;
  char* saved = rl_copy_text(0, rl_end);
  rl_save_prompt();
  rl_replace_line("", 0);
  rl_redisplay();
  std::cout << "\r\033[K" << text << std::endl;
  rl_restore_prompt();
  rl_replace_line(saved, 0);
  rl_point = point;
  rl_redisplay();
  std::free(saved);
}

int Terminal::width() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

bool Terminal::would_prompt() {
  return ::isatty(STDIN_FILENO) != 0;
}

void Terminal::interrupt() {
  if (!interactive_ || !running_) return;
  rl_replace_line("", 0);
  rl_point = 0;
  print("(Ctrl-C clears the line; type exit to quit)");
}

void Terminal::set_status(const std::string& status) {
  if (!interactive_ || !running_ || status == status_) return;
  status_ = status;
  // The status rides in the prompt itself: one line, redrawn in place as it changes.
  const std::string p = status.empty() ? prompt_ : status + "  " + prompt_;
  rl_set_prompt(p.c_str());
  if (!in_command_) rl_redisplay();  // else readline shows it when the command returns
}

}  // namespace swarmlab::realnet
