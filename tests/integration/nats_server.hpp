#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace bb::itest {

// A real nats-server with JetStream, started for one test or fixture:
//   nats-server -js -a 127.0.0.1 -p -1 -sd <tmp>/store --ports_file_dir <tmp> [extra args]
// It listens on loopback only, on a port the kernel picks, and learns that port from the
// ports file the server writes. The temp folder (store, ports file, server.log) lives as long
// as this object. A missing or failing server binary throws from the constructor, so the test
// fails in setup instead of being skipped. Not thread-safe: drive it from the test thread.
class NatsServer {
public:
    // `extra_args` go after ours (for example "-c", "<conf>" or "--user", "u").
    explicit NatsServer(std::vector<std::string> extra_args = {});
    ~NatsServer();
    NatsServer(const NatsServer&) = delete;
    NatsServer& operator=(const NatsServer&) = delete;

    const std::string& url() const { return url_; }  // nats://127.0.0.1:PORT
    int port() const { return port_; }
    const std::filesystem::path& dir() const { return dir_; }
    bool running() const { return pid_ > 0; }

    // SIGTERM, then SIGKILL if it has not exited within 10 s. Safe when already stopped.
    void stop();
    // SIGKILL, as a crash or a pulled plug ends it, and reap it. Safe when already stopped.
    void kill_now();
    // Starts again on the same port with the same store: streams and messages survive.
    void restart();

private:
    void start(int port);
    std::vector<std::string> argv_for(int port) const;
    std::string wait_for_ports_file(pid_t pid);
    std::string log_tail() const;

    std::filesystem::path dir_;
    std::vector<std::string> extra_args_;
    std::string url_;
    int port_ = -1;
    pid_t pid_ = -1;
};

}  // namespace bb::itest
