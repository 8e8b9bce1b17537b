/*
 * Session tickets in `hotssl info` (text and --json) and in serve's log:
 * on or off, the keys, the encrypting key's name and age, and the counts,
 * from the HOTSSL_INFO_TICKET* items (docs/session-resumption.md).
 */
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "log.h"

typedef struct tickets_view {
  uint64_t on, keys, issued, resumed, rejected;
  int64_t age;
  char name[40], source[32];
} tickets_view;

static void view(hotssl_manager *m, tickets_view *v) {
  v->on = v->keys = v->issued = v->resumed = v->rejected = 0;
  v->age = 0;
  v->name[0] = v->source[0] = '\0';
  hotssl_manager_info(m, HOTSSL_INFO_TICKETS, &v->on, sizeof v->on);
  hotssl_manager_info(m, HOTSSL_INFO_TICKET_KEYS, &v->keys, sizeof v->keys);
  hotssl_manager_info(m, HOTSSL_INFO_TICKET_KEY_NAME, v->name, sizeof v->name);
  hotssl_manager_info(m, HOTSSL_INFO_TICKET_KEY_AGE, &v->age, sizeof v->age);
  hotssl_manager_info(m, HOTSSL_INFO_TICKET_KEY_SOURCE, v->source, sizeof v->source);
  hotssl_manager_info(m, HOTSSL_INFO_TICKETS_ISSUED, &v->issued, sizeof v->issued);
  hotssl_manager_info(m, HOTSSL_INFO_TICKETS_RESUMED, &v->resumed, sizeof v->resumed);
  hotssl_manager_info(m, HOTSSL_INFO_TICKETS_REJECTED, &v->rejected, sizeof v->rejected);
}

void cli_print_tickets(FILE *f, hotssl_manager *m) {
  tickets_view v;
  view(m, &v);
  if (!v.on) {
    fprintf(f, "tickets:       off\n");
    return;
  }
  fprintf(f, "tickets:       on, %llu keys (%s), encrypting key %s, age %lld s\n",
          (unsigned long long)v.keys, v.source, v.name, (long long)v.age);
  fprintf(f, "resumed:       %llu (tickets issued %llu, refused %llu)\n", (unsigned long long)v.resumed,
          (unsigned long long)v.issued, (unsigned long long)v.rejected);
}

void cli_print_tickets_json(FILE *f, hotssl_manager *m) {
  tickets_view v;
  view(m, &v);
  fprintf(f, "  \"session_tickets\": %s,\n", v.on ? "true" : "false");
  if (!v.on)
    return;
  fprintf(f, "  \"ticket_keys\": %llu,\n  \"ticket_key_source\": \"%s\",\n", (unsigned long long)v.keys,
          v.source);
  fprintf(f, "  \"ticket_key_name\": \"%s\",\n  \"ticket_key_age\": %lld,\n", v.name, (long long)v.age);
  fprintf(f, "  \"tickets_issued\": %llu,\n  \"tickets_resumed\": %llu,\n  \"tickets_refused\": %llu,\n",
          (unsigned long long)v.issued, (unsigned long long)v.resumed, (unsigned long long)v.rejected);
}

void cli_log_tickets(hotssl_manager *m) {
  tickets_view v;
  char line[256];
  view(m, &v);
  if (!v.on)
    snprintf(line, sizeof line, "session tickets off");
  else
    snprintf(line, sizeof line,
             "session tickets on: %llu keys (%s), encrypting key %s, age %lld s; resumed %llu, issued %llu, refused %llu",
             (unsigned long long)v.keys, v.source, v.name, (long long)v.age,
             (unsigned long long)v.resumed, (unsigned long long)v.issued,
             (unsigned long long)v.rejected);
  cli_log(NULL, HOTSSL_LOG_INFO, line);
}
