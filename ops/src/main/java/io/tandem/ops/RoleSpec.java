package io.tandem.ops;

import com.typesafe.config.Config;
import io.tandem.worker.WorkerSettings;
import java.util.List;

/** The model of one role on this node: its spec, the devices to run replicas on, worker limits. */
public record RoleSpec(String model, List<String> devices, WorkerSettings settings, int perTenantQueueLimit) {

  public RoleSpec {
    devices = List.copyOf(devices);
    if (devices.isEmpty()) throw new IllegalArgumentException("a role needs at least one device");
  }

  /** Reads {@code tandem.small} or {@code tandem.large}. */
  public static RoleSpec fromConfig(Config c) {
    return new RoleSpec(c.getString("model"), c.getStringList("devices"), WorkerSettings.fromConfig(c),
        c.getInt("per-tenant-queue-limit"));
  }

  public RoleSpec withModel(String newModel) {
    return new RoleSpec(newModel, devices, settings, perTenantQueueLimit);
  }

  public RoleSpec withSettings(WorkerSettings s) {
    return new RoleSpec(model, devices, s, perTenantQueueLimit);
  }
}
