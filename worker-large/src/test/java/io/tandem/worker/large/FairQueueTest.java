package io.tandem.worker.large;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.protocol.FailureCode;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.worker.AdmissionQueue;
import io.tandem.worker.PendingRequest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FairQueueTest {
  private static PendingRequest req(String tenant, String session) {
    WorkerProtocol.Generate g = new WorkerProtocol.Generate(session, tenant, 1, 0, null, List.of(),
        new WorkerProtocol.Limits(null, 1, 1, false, List.of()), io.tandem.protocol.SamplingParams.GREEDY, false, null);
    return new PendingRequest(g, 0);
  }

  @Test
  void aTenantsBurstDoesNotStarveAnotherTenant() {
    FairQueue q = new FairQueue(100, 100);
    for (int i = 0; i < 10; i++) assertTrue(q.offer(req("busy", "b" + i)));
    assertTrue(q.offer(req("quiet", "q0")));
    List<String> order = new ArrayList<>();
    for (PendingRequest p; (p = q.poll()) != null; ) order.add(p.sessionId());
    assertEquals("b0", order.get(0));
    assertEquals("q0", order.get(1), "the quiet tenant's takeover goes second, not eleventh: " + order);
    assertEquals(11, order.size());
  }

  @Test
  void withinATenantRequestsKeepTheirOrder() {
    FairQueue q = new FairQueue(100, 100);
    q.offer(req("a", "1"));
    q.offer(req("b", "x"));
    q.offer(req("a", "2"));
    q.offer(req("a", "3"));
    List<String> order = new ArrayList<>();
    for (PendingRequest p; (p = q.poll()) != null; ) order.add(p.sessionId());
    assertEquals(List.of("1", "x", "2", "3"), order);
  }

  @Test
  void theQueueIsBoundedInTotalAndPerTenant() {
    FairQueue q = new FairQueue(3, 2);
    assertTrue(q.offer(req("a", "1")));
    assertTrue(q.offer(req("a", "2")));
    assertFalse(q.offer(req("a", "3")), "per-tenant limit");
    // The refusal names the limit met (a tester's "queue is full (2 waiting)" of a queue of 8 was the tenant's share).
    assertEquals("queue already holds 2 requests of tenant 'a', the most one tenant may have waiting"
        + " (tandem.large.per-tenant-queue-limit; other tenants' requests are still taken)", q.whyFull(req("a", "3"), "tandem.large.").reason());
    // The tenant's share met is the tenant's limit (a 429), not the server's (a 503).
    assertEquals(FailureCode.TENANT_QUEUE_FULL, q.whyFull(req("a", "3"), "tandem.large.").code());
    FairQueue one = new FairQueue(3, 1);
    assertTrue(one.offer(req("a", "1")));
    assertEquals("queue already holds 1 request of tenant 'a', the most one tenant may have waiting"
        + " (tandem.large.per-tenant-queue-limit; other tenants' requests are still taken)", one.whyFull(req("a", "2"), "tandem.large.").reason());
    assertTrue(q.offer(req("b", "1")));
    assertFalse(q.offer(req("c", "1")), "total limit");
    assertEquals(3, q.size());
    assertEquals(new AdmissionQueue.Full(FailureCode.QUEUE_FULL, "queue is full (3 waiting, tandem.large.queue-limit)"),
        q.whyFull(req("c", "1"), "tandem.large."));
    assertEquals(new AdmissionQueue.Full(FailureCode.QUEUE_FULL, "queue is full (3 waiting, tandem.large.queue-limit)"),
        q.whyFull(req("a", "3"), "tandem.large."), "the whole queue full is said first");
  }

  @Test
  void removingASessionsRequestFreesItsPlace() {
    FairQueue q = new FairQueue(10, 10);
    q.offer(req("a", "1"));
    q.offer(req("b", "2"));
    assertEquals("1", q.remove("1").sessionId());
    assertNull(q.remove("1"));
    assertEquals("2", q.poll().sessionId());
    assertNull(q.poll());
    assertEquals(0, q.size());
  }
}
