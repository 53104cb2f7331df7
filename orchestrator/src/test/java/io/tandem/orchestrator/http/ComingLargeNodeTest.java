package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.DispatcherSelector;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.Role;
import io.tandem.worker.FifoQueue;
import io.tandem.worker.ModelWorker;
import io.tandem.worker.WorkerSettings;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A cluster member of role large whose workers have not reached this node's receptionist yet (a
 * large node restarted moments ago, or one still loading its model) is on its way: a speculative
 * request waits {@code worker-wait} for its worker instead of the immediate 503 that
 * {@link NoLargeWorkerTest} gets when no large node is in the cluster at all.
 */
class ComingLargeNodeTest {
  @RegisterExtension
  static final TestServer server = TestServer.start(
      "tandem.session.worker-wait = 30s\n"
          + "akka.actor.provider = cluster\n"
          + "akka.remote.artery.transport = tcp\n"
          + "akka.remote.artery.canonical.hostname = 127.0.0.1\n"
          + "akka.remote.artery.canonical.port = " + freePort() + "\n"
          + "akka.cluster.roles = [orchestrator, small, large]\n",
      Set.of(Role.small));

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void aSpeculativeRequestWaitsForTheWorkerOfALargeMemberStillOnItsWay() throws Exception {
    Cluster cluster = Cluster.get(server.system);
    cluster.manager().tell(akka.cluster.typed.Join.create(cluster.selfMember().address()));
    TestServer.eventually("this node is up", () -> cluster.selfMember().status().equals(MemberStatus.up()));

    server.gate.close();
    CompletableFuture<HttpResponse<String>> answer = CompletableFuture.supplyAsync(() -> {
      try {
        return server.post("/v1/chat/completions",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"Compute.\"}],\"max_tokens\":64}", null);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    // The session started: its first small step took the one step let through.
    server.gate.allow(1);
    TestServer.eventually("the session's first step ran, or it was answered",
        () -> server.gate.pending() == 0 || answer.isDone());
    assertFalse(answer.isDone(), "not answered before the large worker came: " + (answer.isDone() ? answer.join().body() : ""));

    server.system.systemActorOf(ModelWorker.create(Role.large,
            () -> new TestServer.GatedModel("scripted-large", TestServer.LARGE, server.gate, 1 << 20),
            WorkerSettings.defaults(), () -> new FifoQueue(1024)),
        "large-worker", akka.actor.typed.Props.empty().withNext(DispatcherSelector.fromConfig(ModelWorker.DISPATCHER)));
    server.gate.open();

    HttpResponse<String> r = answer.get(60, TimeUnit.SECONDS);
    assertEquals(200, r.statusCode(), r.body());
    JsonNode tandem = new ObjectMapper().readTree(r.body()).path("tandem");
    assertFalse(tandem.path("degraded").asBoolean(), r.body());
    assertTrue(tandem.at("/counters/takeovers").asInt() > 0, "the large worker took over: " + r.body());
  }
}
