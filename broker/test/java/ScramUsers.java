// Describes SCRAM users with the Java client's Admin.describeUserScramCredentials (what
// kafka-configs --describe --entity-type users calls after DescribeClientQuotas), run as a
// single-file program: java -cp <kafka libs> ScramUsers.java <bootstrap> <client.properties> [user...]
// Prints "user mechanism iterations" lines, or "user error <message>" for a user it cannot describe.
import java.io.FileInputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeUserScramCredentialsResult;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;

public class ScramUsers {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    try (FileInputStream in = new FileInputStream(args[1])) {
      props.load(in);
    }
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    List<String> users = Arrays.asList(args).subList(2, args.length);
    try (Admin admin = Admin.create(props)) {
      DescribeUserScramCredentialsResult result = users.isEmpty() ? admin.describeUserScramCredentials() : admin.describeUserScramCredentials(users);
      for (String user : users.isEmpty() ? result.users().get() : users) {
        try {
          UserScramCredentialsDescription description = result.description(user).get();
          description.credentialInfos().forEach((info) -> System.out.println(user + " " + info.mechanism().mechanismName() + " " + info.iterations()));
        } catch (ExecutionException e) {
          System.out.println(user + " error " + e.getCause().getMessage());
        }
      }
    }
  }
}
