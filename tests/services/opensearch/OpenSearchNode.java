// A single OpenSearch node for tests, started from the jars of pom.xml with the Java source launcher:
//   java -Xms512m -Xmx768m -cp 'libs/*' OpenSearchNode.java <home> <http-port> <transport-port>
// No security plugin is on the classpath, so the node speaks plain HTTP without authentication.
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public class OpenSearchNode {
  static final class TestNode extends Node {
    TestNode(Environment env, List<Class<? extends Plugin>> plugins) {
      // true: forbid private index settings, as a real node does.
      super(env, plugins, true);
    }
  }

  public static void main(String[] args) throws Exception {
    Path home = Path.of(args[0]).toAbsolutePath();
    Files.createDirectories(home.resolve("config"));
    Settings settings = Settings.builder()
        .put("path.home", home.toString())
        .put("path.data", home.resolve("data").toString())
        .put("path.logs", home.resolve("logs").toString())
        .put("cluster.name", "trailgate-test")
        .put("node.name", "trailgate-test-0")
        .put("discovery.type", "single-node")
        .put("network.host", "127.0.0.1")
        .put("http.port", args[1])
        .put("transport.port", args[2])
        // A nearly full CI disk must not turn indices read-only in the middle of a test.
        .put("cluster.routing.allocation.disk.threshold_enabled", false)
        .build();
    LogConfigurator.configureWithoutConfig(settings);
    LogConfigurator.setNodeName("trailgate-test-0");
    Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Collections.emptyMap(), home.resolve("config"), () -> "trailgate-test-0");
    Node node = new TestNode(env, List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, MapperExtrasPlugin.class, PainlessPlugin.class));
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
        node.awaitClose(30, java.util.concurrent.TimeUnit.SECONDS);
      } catch (Exception e) {
        e.printStackTrace();
      }
    }));
    node.start();
    System.out.println("opensearch: started http://127.0.0.1:" + args[1]);
    Thread.currentThread().join();
  }
}
