package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ops/cluster/local.sh}: three {@code tandem serve} processes on 127.0.0.1, a request through
 * the HTTP node answered with takeovers by the large node, then {@code down}.
 *
 * <p>An integration test (failsafe, after {@code package}): it runs the launcher as a user would,
 * which needs {@code ops/target/tandem-ops.jar} and its {@code lib/}.
 */
class LocalClusterScriptIT {

  static Path repo() {
    Path p = Path.of("").toAbsolutePath();
    return Files.isDirectory(p.resolve("ops/cluster")) ? p : p.getParent();
  }

  private static int run(Map<String, String> env, String... args) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(args).directory(repo().toFile()).redirectErrorStream(true).inheritIO();
    pb.environment().putAll(env);
    Process p = pb.start();
    if (!p.waitFor(180, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", args) + " did not finish within 180 s");
    }
    return p.exitValue();
  }

  @Test
  void threeNodesComeUpAnswerARequestWithTakeoversByTheLargeNodeAndGoDown(@TempDir Path dir) throws Exception {
    assertTrue(Files.isRegularFile(repo().resolve("ops/target/tandem-ops.jar")), "the launcher is packaged");
    int cluster = LoopbackCluster.freePort(), http = LoopbackCluster.freePort();
    Map<String, String> env = Map.of("TANDEM_CLUSTER_DIR", dir.toString(), "TANDEM_CLUSTER_PORT", String.valueOf(cluster),
        "TANDEM_HTTP_PORT", String.valueOf(http), "TANDEM_JAVA_OPTS", "-Xmx512m");
    String script = repo().resolve("ops/cluster/local.sh").toString();
    try {
      assertEquals(0, run(env, script, "up"));
      assertEquals(0, run(env, script, "status"), "all three running");
      HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
      String body = "{\"model\": \"tandem\", \"messages\": [{\"role\": \"user\", \"content\": \"Compute the sum.\"}],"
          + " \"max_tokens\": 300, \"temperature\": 0}";
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http + "/v1/chat/completions"))
          .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
      JsonNode json = new ObjectMapper().readTree(r.body());
      // The demo scripts never close a think block: the answer may all be reasoning_content.
      JsonNode message = json.at("/choices/0/message");
      String text = message.path("content").asText("") + message.path("reasoning_content").asText("");
      assertFalse(text.isEmpty(), r.body());
      // The demo large model writes in capitals: its takeovers are visible in the answer.
      assertTrue(text.chars().filter(Character::isUpperCase).count() > 20, "the large node took over: " + text);
      assertTrue(json.at("/tandem/counters/takeovers").asInt() > 0, r.body());
      assertTrue(json.at("/tandem/counters/tokens/large").asInt() > 0, r.body());
      assertFalse(json.at("/tandem/degraded").asBoolean(false), r.body());
      assertTrue(Files.size(dir.resolve("large.log")) > 0, "logs in one folder");
    } finally {
      assertEquals(0, run(env, script, "down"));
    }
    assertTrue(run(env, script, "status") != 0, "nothing left running after down");
  }
}
