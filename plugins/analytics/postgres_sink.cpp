#include "postgres_sink.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace bb::analytics {
namespace {

constexpr size_t kColumns = 12;
// One statement takes at most 65,535 parameters; 1,000 rows (12,000) keep statements and
// their parse time modest while a batch of the default 256 rows is still one statement.
constexpr size_t kRowsPerStatement = 1000;

constexpr const char* kColumnList =
    "id, type, aggregate_type, aggregate_id, source, user_id, correlation_id, causation_id, "
    "time, data, stream_seq, received_at";

// Settings libpq takes before the user's connection string, which overrides any of them.
// Without them a server that stops answering (a cut network, not a refused port) would hold
// the writer thread, and with it every handler call, for the kernel's TCP timeouts (minutes).
// Units are libpq's: seconds, except tcp_user_timeout in milliseconds.
constexpr std::array<std::pair<const char*, const char*>, 6> kConnectionDefaults = {{
    {"connect_timeout", "5"},
    {"keepalives_idle", "10"},
    {"keepalives_interval", "5"},
    {"keepalives_count", "3"},
    {"tcp_user_timeout", "10000"},
    {"application_name", "broker-bridge-analytics"},
}};

// libpq's messages end with a newline (and may hold several lines): one line for a log.
std::string one_line(const char* text) {
    std::string s = text != nullptr ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s.empty() ? "no error text" : s;
}

// "host:port/database" from the connection string, without the password; what libpq would
// use for a key left out (PGHOST, the socket folder, the user name) is not guessed.
std::string describe_server(const std::string& dsn) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
    if (options == nullptr) {
        std::string why = one_line(error);
        PQfreemem(error);
        throw std::runtime_error("postgres: malformed dsn: " + why);
    }
    std::string host, port, database;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
        std::string_view key = o->keyword;
        std::string value = o->val != nullptr ? o->val : "";
        if (key == "host" || (key == "hostaddr" && host.empty())) host = value;
        if (key == "port") port = value;
        if (key == "dbname") database = value;
    }
    PQconninfoFree(options);
    return (host.empty() ? "(default host)" : host) + ":" + (port.empty() ? "5432" : port) + "/" +
           (database.empty() ? "(default database)" : database);
}

std::string quoted(const std::string& identifier) { return "\"" + identifier + "\""; }

std::string create_table_sql(const std::string& table) {
    return "CREATE TABLE IF NOT EXISTS " + quoted(table) +
           " (id TEXT PRIMARY KEY NOT NULL, type TEXT, aggregate_type TEXT, aggregate_id TEXT,"
           " source TEXT, user_id TEXT, correlation_id TEXT, causation_id TEXT, time TEXT,"
           " data TEXT, stream_seq BIGINT, received_at TIMESTAMPTZ)";
}

// INSERT ... VALUES ($1, ..., $12), ($13, ...) ... ON CONFLICT (id) DO NOTHING. DO NOTHING
// also covers an id twice within one statement: the second copy is skipped, not an error.
std::string insert_sql(const std::string& table, size_t rows) {
    std::string sql = "INSERT INTO " + quoted(table) + " (" + kColumnList + ") VALUES ";
    sql.reserve(sql.size() + rows * kColumns * 6 + 32);
    size_t param = 1;
    for (size_t r = 0; r < rows; ++r) {
        sql += r == 0 ? "(" : ", (";
        for (size_t c = 0; c < kColumns; ++c) {
            if (c > 0) sql += ", ";
            sql += "$" + std::to_string(param++);
        }
        sql += ")";
    }
    return sql + " ON CONFLICT (id) DO NOTHING";
}

// Text parameters for a chunk of rows; an empty optional attribute is NULL.
class Parameters {
public:
    explicit Parameters(std::span<const Row> rows) {
        seqs_.reserve(rows.size());
        values_.reserve(rows.size() * kColumns);
        for (const Row& row : rows) {
            seqs_.push_back(std::to_string(row.stream_seq));
            add(row.id, false);
            for (const std::string* v :
                 {&row.type, &row.aggregate_type, &row.aggregate_id, &row.source, &row.user_id,
                  &row.correlation_id, &row.causation_id, &row.time, &row.data}) {
                add(*v, true);
            }
            add(seqs_.back(), false);
            add(row.received_at, true);
        }
    }
    int count() const { return static_cast<int>(values_.size()); }
    const char* const* values() const { return values_.data(); }

private:
    void add(const std::string& value, bool nullable) {
        values_.push_back(value.empty() && nullable ? nullptr : value.c_str());
    }

    std::vector<std::string> seqs_;  // reserved up front: c_str() pointers stay valid
    std::vector<const char*> values_;
};

struct ClearResult {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ClearResult>;

bool succeeded(const PGresult* r) {
    auto status = PQresultStatus(r);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

}  // namespace

PostgresSink::PostgresSink(const std::string& dsn, const std::string& table)
    : dsn_(dsn), table_(table), server_(describe_server(dsn)) {
    std::string error;
    if (!connect(error)) throw std::runtime_error(error);
    create_table();
}

bool PostgresSink::connect(std::string& error) {
    std::vector<const char*> keys, values;
    for (const auto& [k, v] : kConnectionDefaults) {
        keys.push_back(k);
        values.push_back(v);
    }
    // expand_dbname: the dsn is a whole connection string whose keys override the defaults.
    keys.push_back("dbname");
    values.push_back(dsn_.c_str());
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_.reset(PQconnectdbParams(keys.data(), values.data(), 1));
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) {
        // libpq prints server notices ("relation already exists, skipping") to stderr, past
        // the host's log format; none of them matters to the sink.
        PQsetNoticeProcessor(
            conn_.get(), [](void*, const char*) {}, nullptr);
        return true;
    }
    error = failure("cannot connect");
    conn_.reset();
    return false;
}

// Replicas starting together would race on CREATE TABLE IF NOT EXISTS, which can fail with
// a unique violation in the catalog; a transaction-scoped advisory lock lets one create it.
void PostgresSink::create_table() {
    std::string lock =
        "SELECT pg_advisory_xact_lock(hashtext('broker-bridge analytics " + table_ + "'))";
    std::string create = create_table_sql(table_);
    std::string error = execute("BEGIN", "begin");
    if (error.empty()) error = execute(lock.c_str(), "lock the table's creation");
    if (error.empty()) error = execute(create.c_str(), "create the table");
    if (error.empty()) error = execute("COMMIT", "commit the table");
    // Preparing the insert checks that an existing table has every column and a unique
    // id, so a mismatch stops start-up instead of failing every batch later.
    if (error.empty()) {
        Result r(PQprepare(conn_.get(), "", insert_sql(table_, 1).c_str(), kColumns, nullptr));
        if (!succeeded(r.get())) error = failure("table cannot take the rows");
    }
    if (!error.empty()) throw std::runtime_error(error + " (table " + table_ + ")");
}

BatchResult PostgresSink::write_batch(std::span<const Row> rows) {
    std::string error;
    if (!conn_ && !connect(error)) return BatchResult{0, error};
    BatchResult result = insert(rows);
    if (result.ok() || PQstatus(conn_.get()) == CONNECTION_OK) return result;
    // The connection broke, most often because the server restarted since the last batch:
    // one more try at once on a fresh connection, instead of failing a batch the server
    // could take.
    if (!connect(error)) return BatchResult{0, result.error + "; " + error};
    return insert(rows);
}

BatchResult PostgresSink::insert(std::span<const Row> rows) {
    BatchResult result;
    bool one_statement = rows.size() <= kRowsPerStatement;
    std::string error = one_statement ? "" : execute("BEGIN", "begin");
    for (size_t at = 0; error.empty() && at < rows.size(); at += kRowsPerStatement) {
        size_t n = std::min(kRowsPerStatement, rows.size() - at);
        error = insert_chunk(rows.subspan(at, n), result.inserted);
    }
    if (!one_statement && error.empty()) error = execute("COMMIT", "commit");
    if (error.empty()) return result;
    if (PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) execute("ROLLBACK", "rollback");
    return BatchResult{0, error};
}

std::string PostgresSink::insert_chunk(std::span<const Row> rows, size_t& inserted) {
    Parameters params(rows);
    std::string sql = insert_sql(table_, rows.size());
    Result r(PQexecParams(conn_.get(), sql.c_str(), params.count(), nullptr, params.values(),
                          nullptr, nullptr, 0));
    if (!succeeded(r.get())) return failure("insert");
    inserted += static_cast<size_t>(std::strtoull(PQcmdTuples(r.get()), nullptr, 10));
    return "";
}

std::string PostgresSink::execute(const char* sql, const char* what) {
    Result r(PQexec(conn_.get(), sql));
    return succeeded(r.get()) ? "" : failure(what);
}

std::string PostgresSink::failure(const char* what) const {
    // PQerrorMessage accepts NULL (out of memory before a connection existed).
    return "postgres " + server_ + ": " + what + ": " + one_line(PQerrorMessage(conn_.get()));
}

}  // namespace bb::analytics
