// The pgjdbc step of the client matrix (tests/integration/postgres-clients.test.ts): one session through
// the gateway over TLS, every step a CI job's JVM program would take, one JSON result on stdout.
// Run by Java's single-file source launcher: java --class-path postgresql.jar Matrix.java
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.postgresql.PGConnection;
import org.postgresql.PGStatement;

public class Matrix {
  static final String TYPES = "SELECT ?::int4, ?::int8, ?::numeric, ?::text, ?::bytea, ?::timestamptz, ?::uuid, ?::jsonb, ?::int4[], ?::text[]";

  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + System.getenv("TG_CLIENT_HOST") + ":" + System.getenv("TG_CLIENT_PORT") + "/app";
    Properties props = new Properties();
    props.setProperty("user", "ci");
    props.setProperty("password", System.getenv("PGPASSWORD"));
    props.setProperty("sslmode", "require");
    // pgjdbc names itself with SET application_name after connecting unless told the server's version.
    props.setProperty("ApplicationName", "pgjdbc-matrix");
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("client", "pgjdbc");
    try (Connection conn = DriverManager.getConnection(url, props); Connection watcher = DriverManager.getConnection(url, props)) {
      Statement st = conn.createStatement();
      int pid = one(st, "SELECT pg_backend_pid()").getInt(1);
      out.put("pid", pid);
      out.put("applicationName", one(st, "SELECT current_setting('application_name')").getString(1));
      st.execute("CREATE TEMP TABLE items (id int PRIMARY KEY, name text)");

      Map<String, Object> types = new LinkedHashMap<>();
      types.put("text", roundTrip(conn, false));
      types.put("binary", roundTrip(conn, true));
      out.put("types", types);

      List<Object> prepared = new ArrayList<>();
      try (PreparedStatement ps = conn.prepareStatement("SELECT ?::int * 2")) {
        for (int i = 1; i <= 3; i++) {
          ps.setInt(1, i);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            prepared.add(rs.getInt(1));
          }
        }
      }
      out.put("prepared", prepared);

      conn.setAutoCommit(false);
      st.execute("INSERT INTO items VALUES (1, 'lost')");
      String failed = state(() -> st.execute("SELECT 1/0"));
      String aborted = state(() -> st.execute("SELECT 1"));
      conn.rollback();
      conn.setAutoCommit(true);
      Map<String, Object> tx = new LinkedHashMap<>();
      tx.put("error", failed);
      tx.put("aborted", aborted);
      tx.put("rowsAfterRollback", one(st, "SELECT count(*) FROM items").getInt(1));
      tx.put("recovered", one(st, "SELECT 1").getInt(1));
      out.put("failedTransaction", tx);

      try (PreparedStatement ps = conn.prepareStatement("INSERT INTO items VALUES (?, ?)")) {
        for (int i = 1; i <= 100; i++) {
          ps.setInt(1, i);
          ps.setString(2, "batch-" + i);
          ps.addBatch();
        }
        ps.executeBatch();
      }
      out.put("batch", Map.of("mode", "addBatch", "rows", one(st, "SELECT count(*) FROM items").getInt(1)));

      StringBuilder rows = new StringBuilder();
      for (int i = 1001; i <= 2000; i++) rows.append(i).append('\t').append("copied-").append(i).append('\n');
      var copy = conn.unwrap(PGConnection.class).getCopyAPI();
      long in = copy.copyIn("COPY items (id, name) FROM STDIN", new StringReader(rows.toString()));
      StringWriter copied = new StringWriter();
      copy.copyOut("COPY (SELECT id, name FROM items WHERE id > 1000 ORDER BY id) TO STDOUT", copied);
      String[] lines = copied.toString().split("\n");
      Map<String, Object> c = new LinkedHashMap<>();
      c.put("in", in);
      c.put("out", lines.length);
      c.put("firstOut", lines[0]);
      c.put("lastOut", lines[lines.length - 1]);
      out.put("copy", c);

      long count = 0, sum = 0;
      try (ResultSet rs = st.executeQuery("SELECT g, md5(g::text) FROM generate_series(1, 100000) g")) {
        while (rs.next()) {
          count++;
          sum += rs.getLong(1);
          rs.getString(2);
        }
      }
      out.put("large", Map.of("rows", count, "sum", sum));

      Statement sleeper = conn.createStatement();
      String[] outcome = {"finished"};
      Thread t = new Thread(() -> outcome[0] = state(() -> sleeper.execute("SELECT pg_sleep(30)")));
      t.start();
      boolean saw = false;
      try (PreparedStatement w = watcher.prepareStatement("SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = ? AND wait_event = 'PgSleep'")) {
        w.setInt(1, pid);
        for (int i = 0; i < 1000 && !saw; i++) {
          try (ResultSet rs = w.executeQuery()) {
            rs.next();
            saw = rs.getBoolean(1);
          }
          if (!saw) Thread.sleep(10);
        }
      }
      boolean requestOk = true;
      try {
        sleeper.cancel();
      } catch (SQLException e) {
        requestOk = false;
      }
      t.join(60_000);
      Map<String, Object> cancel = new LinkedHashMap<>();
      cancel.put("sawSleep", saw);
      cancel.put("requestOk", requestOk);
      cancel.put("sqlstate", outcome[0]);
      cancel.put("after", one(st, "SELECT 1").getInt(1));
      out.put("cancel", cancel);
    }
    System.out.println(json(out));
  }

  static Map<String, Object> roundTrip(Connection conn, boolean binary) throws SQLException {
    try (PreparedStatement ps = conn.prepareStatement(TYPES)) {
      // A negative threshold makes pgjdbc prepare on the server at once and transfer results in binary.
      if (binary) ps.unwrap(PGStatement.class).setPrepareThreshold(-1);
      ps.setInt(1, 2147483647);
      ps.setLong(2, 9223372036854775807L);
      ps.setBigDecimal(3, new BigDecimal("12345678901234567890.123456789"));
      ps.setString(4, "héllo wörld ✓");
      ps.setBytes(5, new byte[] {(byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef, 0});
      ps.setObject(6, OffsetDateTime.of(2024, 2, 29, 12, 34, 56, 789_000_000, ZoneOffset.UTC));
      ps.setObject(7, UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
      ps.setString(8, "{\"a\": [1, 2, {\"b\": null}], \"c\": \"d\"}");
      ps.setArray(9, conn.createArrayOf("int4", new Integer[] {1, 2, 3}));
      ps.setArray(10, conn.createArrayOf("text", new String[] {"a", "b c", "d,e"}));
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("int", rs.getInt(1));
        r.put("bigint", String.valueOf(rs.getLong(2)));
        r.put("numeric", rs.getBigDecimal(3).toPlainString());
        r.put("text", rs.getString(4));
        r.put("bytea", HexFormat.of().formatHex(rs.getBytes(5)));
        r.put("timestamptz", rs.getObject(6, OffsetDateTime.class).withOffsetSameInstant(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")));
        r.put("uuid", rs.getObject(7, UUID.class).toString());
        r.put("jsonb", new Raw(rs.getString(8)));
        r.put("intArray", List.of((Object[]) rs.getArray(9).getArray()));
        Array texts = rs.getArray(10);
        r.put("textArray", List.of((Object[]) texts.getArray()));
        return r;
      }
    }
  }

  interface Step {
    void run() throws SQLException;
  }

  static String state(Step s) {
    try {
      s.run();
      return "";
    } catch (SQLException e) {
      return e.getSQLState();
    }
  }

  static ResultSet one(Statement st, String sql) throws SQLException {
    ResultSet rs = st.executeQuery(sql);
    rs.next();
    return rs;
  }

  /** JSON text that goes out as it is (jsonb as the server printed it). */
  record Raw(String json) {}

  static String json(Object v) {
    if (v == null) return "null";
    if (v instanceof Raw r) return r.json();
    if (v instanceof Number || v instanceof Boolean) return v.toString();
    if (v instanceof Map<?, ?> m) {
      List<String> parts = new ArrayList<>();
      for (var e : m.entrySet()) parts.add(json(e.getKey().toString()) + ":" + json(e.getValue()));
      return "{" + String.join(",", parts) + "}";
    }
    if (v instanceof List<?> l) {
      List<String> parts = new ArrayList<>();
      for (Object o : l) parts.add(json(o));
      return "[" + String.join(",", parts) + "]";
    }
    StringBuilder sb = new StringBuilder("\"");
    for (char ch : v.toString().toCharArray()) {
      if (ch == '"' || ch == '\\') sb.append('\\').append(ch);
      else if (ch < 0x20) sb.append(String.format("\\u%04x", (int) ch));
      else sb.append(ch);
    }
    return sb.append('"').toString();
  }
}
