
# Copyright (c) hotssl contributors. PostgreSQL's TAP style; run by
# integrations/postgresql/run.sh in each hotssl tree (fork and EXEC_BACKEND),
# from src/test/ssl (it uses that folder's ssl/ certificates).
#
# What stock PostgreSQL cannot do and the hotssl server must:
#  - a certificate and key renamed over the served ones are served to new
#    connections with no pg_ctl reload and no restart;
#  - a session opened before keeps working;
#  - a mismatched key keeps the last good pair serving, and the log names
#    the file;
#  - ALTER SYSTEM + pg_reload_conf() switches to other files, and a bad new
#    setting keeps the last good; ssl = off at reload destroys the context;
#  - a passphrase-protected key with ssl_passphrase_command_supports_reload =
#    off serves in an EXEC_BACKEND build (stock: "server does not support
#    SSL");
#  - SCRAM with channel_binding=require before and after a rotation.

use strict;
use warnings;
use File::Copy;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

if (($ENV{PG_TEST_SSL_SERVER} // '') ne 'hotssl')
{
	plan skip_all => 'the server is not hotssl (PG_TEST_SSL_SERVER)';
}

my $exec_backend = check_pg_config('#define EXEC_BACKEND 1')
  || (`pg_config --cppflags` =~ /-DEXEC_BACKEND/);
note "build: " . ($exec_backend ? 'EXEC_BACKEND' : 'fork');

# Generous: a loaded 2-core machine, valgrind-free but with ccache builds.
my $deadline_s = $PostgreSQL::Test::Utils::timeout_default;

sub serial_of_file
{
	my ($file) = @_;
	my $out = `openssl x509 -noout -serial -in $file`;
	die "openssl x509 failed on $file" unless $out =~ /serial=([0-9A-F]+)/;
	return $1;
}

# The serial of the certificate a new TLS connection is served, read by a
# client no one here wrote: openssl s_client with PostgreSQL's SSLRequest.
sub served_serial
{
	my ($node) = @_;
	my ($in, $out, $err) = ('', '', '');
	IPC::Run::run(
		[
			'openssl', 's_client', '-starttls', 'postgres', '-connect',
			'127.0.0.1:' . $node->port
		],
		'<', \$in, '>', \$out, '2>', \$err,
		IPC::Run::timeout($deadline_s));
	my ($pem) = $out =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)/s;
	return '' unless defined $pem;
	my $serial = '';
	IPC::Run::run([ 'openssl', 'x509', '-noout', '-serial' ],
		'<', \$pem, '>', \$serial, '2>', \$err);
	return $serial =~ /serial=([0-9A-F]+)/ ? $1 : '';
}

# Wait until a new connection is served $want (a condition, not a sleep).
sub wait_for_serial
{
	my ($node, $want) = @_;
	my $start = time;
	my $got   = '';
	while (time - $start < $deadline_s)
	{
		$got = served_serial($node);
		return $got if $got eq $want;
		select(undef, undef, undef, 0.1);
	}
	return $got;
}

sub wait_for_log
{
	my ($node, $re, $offset) = @_;
	my $start = time;
	while (time - $start < $deadline_s)
	{
		my $log = slurp_file($node->logfile, $offset);
		return 1 if $log =~ $re;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

sub wait_for_log_now
{
	my ($node, $re) = @_;
	return slurp_file($node->logfile) =~ $re;
}

sub install_pair
{
	my ($node, $name, $cert, $key) = @_;
	my $d = $node->data_dir;
	copy("ssl/$cert.crt", "$d/$name.crt") or die "copy $cert.crt: $!";
	copy("ssl/$key.key",  "$d/$name.key") or die "copy $key.key: $!";
	chmod 0600, "$d/$name.key" or die "chmod: $!";
	return;
}

# Rename-over, as deployment tools replace files: key first, then the cert.
sub rotate_to
{
	my ($node, $cert, $key) = @_;
	my $d = $node->data_dir;
	install_pair($node, 'incoming', $cert, $key);
	rename("$d/incoming.key", "$d/server.key") or die "rename: $!";
	rename("$d/incoming.crt", "$d/server.crt") or die "rename: $!";
	return;
}

my $A = serial_of_file('ssl/server-cn-only.crt');
my $B = serial_of_file('ssl/server-cn-and-alt-names.crt');
my $C = serial_of_file('ssl/server-ip-alt-names.crt');
isnt($A, $B, 'the two rotation certificates have different serials');

my $node = PostgreSQL::Test::Cluster->new('hotssl_reload');
$node->init;
install_pair($node, 'server', 'server-cn-only', 'server-cn-only');
copy('ssl/root+client_ca.crt', $node->data_dir . '/root+client_ca.crt') or die;
$node->append_conf(
	'postgresql.conf', qq{
listen_addresses = '127.0.0.1'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'root+client_ca.crt'
password_encryption = 'scram-sha-256'
});
open my $hba, '>', $node->data_dir . '/pg_hba.conf' or die;
print $hba "local all all trust\n";
print $hba "hostssl all scramuser 127.0.0.1/32 scram-sha-256\n";
print $hba "hostssl all all 127.0.0.1/32 trust\n";
close $hba;
$node->start;
$node->safe_psql('postgres', "CREATE ROLE scramuser LOGIN PASSWORD 'pass'");

my $tcp = 'host=127.0.0.1 port=' . $node->port . ' dbname=postgres';
my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

is(served_serial($node), $A, 'start: the configured certificate is served');
$node->connect_ok("$tcp user=scramuser password=pass sslmode=require channel_binding=require",
	'SCRAM with channel_binding=require before a rotation');

# A session opened before the rotation.
my ($sin, $sout, $serr) = ('', '', '');
my $timer = IPC::Run::timeout($deadline_s);
my $session = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', "$tcp sslmode=require" ],
	'<', \$sin, '>', \$sout, '2>', \$serr, $timer);
$sin .= "SELECT 'before:' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n";
ok(pump_until($session, $timer, \$sout, qr/before:t/), 'a session is open over TLS');

# 1. Rename-over of certificate and key: no pg_ctl reload.
my $offset = -s $node->logfile;
rotate_to($node, 'server-cn-and-alt-names', 'server-cn-and-alt-names');
is(wait_for_serial($node, $B), $B,
	'rename-over: a new connection gets the new serial without pg_ctl reload');
ok(wait_for_log($node, qr/SSL configuration reloaded \(generation \d+\); trigger: file change/, $offset),
	'the log says the file change reloaded');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $started,
	'the postmaster was not restarted');

$sout = '';
$sin .= "SELECT 'after:' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n";
ok(pump_until($session, $timer, \$sout, qr/after:t/),
	'the session opened before the rotation keeps working');

$node->connect_ok("$tcp user=scramuser password=pass sslmode=require channel_binding=require",
	'SCRAM with channel_binding=require after a rotation');

# 2. A key that does not match: the last good pair keeps serving.
$offset = -s $node->logfile;
rotate_to($node, 'server-cn-only', 'server-cn-and-alt-names');
ok( wait_for_log(
		$node,
		qr/SSL configuration was not reloaded: .*server\.key/, $offset),
	'mismatched key: the log names the key file');
is(served_serial($node), $B, 'mismatched key: the last good certificate is still served');
$node->connect_ok("$tcp user=scramuser password=pass sslmode=require channel_binding=require",
	'SCRAM with channel_binding=require while a bad pair is on disk');

# 3. ALTER SYSTEM + reload switches to other files.
install_pair($node, 'other', 'server-ip-alt-names', 'server-ip-alt-names');
$node->safe_psql('postgres', "ALTER SYSTEM SET ssl_cert_file = 'other.crt'");
$node->safe_psql('postgres', "ALTER SYSTEM SET ssl_key_file = 'other.key'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
is(wait_for_serial($node, $C), $C, 'ALTER SYSTEM + reload: the other files are served');

# ... and a bad new setting keeps the last good.
$offset = -s $node->logfile;
$node->safe_psql('postgres', "ALTER SYSTEM SET ssl_cert_file = 'missing.crt'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok(wait_for_log($node, qr/SSL configuration was not reloaded.*missing\.crt/, $offset),
	'a missing file at reload: the log names it');
is(served_serial($node), $C, 'a missing file at reload: the last good is still served');

# The watcher follows the files the new settings name.
$node->safe_psql('postgres', "ALTER SYSTEM SET ssl_cert_file = 'other.crt'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
$offset = -s $node->logfile;
{
	my $d = $node->data_dir;
	install_pair($node, 'incoming', 'server-cn-only', 'server-cn-only');
	rename("$d/incoming.key", "$d/other.key") or die;
	rename("$d/incoming.crt", "$d/other.crt") or die;
}
is(wait_for_serial($node, $A), $A,
	'after ALTER SYSTEM, a rename-over of the new files is picked up without reload');

# ssl = off at reload destroys the context, as in stock PostgreSQL; on again
# builds it anew.
$node->safe_psql('postgres', 'ALTER SYSTEM SET ssl = off');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
is(wait_for_serial($node, ''), '', 'ssl = off at reload: no certificate is served');
$node->connect_fails(
	"$tcp sslmode=require",
	'ssl = off at reload: the server does not support SSL',
	expected_stderr => qr/server does not support SSL/);
$node->safe_psql('postgres', 'ALTER SYSTEM RESET ssl');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
is(wait_for_serial($node, $A), $A, 'ssl = on again at reload: served again');

$sout = '';
$sin .= "SELECT 'still:' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n";
ok(pump_until($session, $timer, \$sout, qr/still:t/),
	'the first session still works after three changes');
$sin .= "\\q\n";
$session->finish;

# 4. Passphrase-protected key, command not allowed at reload.
$node->safe_psql('postgres', 'ALTER SYSTEM RESET ssl_cert_file');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET ssl_key_file');
install_pair($node, 'server', 'server-cn-only', 'server-password');
$node->append_conf(
	'postgresql.conf', qq{
ssl_passphrase_command = 'echo secret1'
ssl_passphrase_command_supports_reload = off
});
$node->restart;
is(served_serial($node), $A,
	'encrypted key, supports_reload = off: served'
	  . ($exec_backend ? ' by an exec\'d backend (stock: no SSL)' : ''));
$node->connect_ok("$tcp sslmode=require",
	'encrypted key, supports_reload = off: libpq connects over TLS');
$node->connect_ok("$tcp user=scramuser password=pass sslmode=require channel_binding=require",
	'encrypted key: SCRAM with channel_binding=require');

# A reload with the key unchanged keeps serving; the command did not rerun.
$offset = -s $node->logfile;
$node->reload;
ok(wait_for_log($node, qr/SSL configuration (unchanged|reloaded)/, $offset),
	'pg_ctl reload with the encrypted key unchanged');
$node->connect_ok("$tcp sslmode=require",
	'encrypted key: still served after pg_ctl reload');

# 5. EXEC_BACKEND: a backend that cannot build its context has no SSL; the
# postmaster and every other backend are unaffected. (Fork build: children
# inherit the context and never rebuild it, so the damage changes nothing.)
$node->stop;
{
	local $ENV{HOTSSL_PG_TEST_DAMAGE_SNAPSHOT} = '1';
	$node->start;
}
if ($exec_backend)
{
	$node->connect_fails(
		"$tcp sslmode=require",
		'EXEC_BACKEND: damaged snapshot: that backend answers without SSL',
		expected_stderr => qr/server does not support SSL/);
	ok( wait_for_log(
			$node,
			qr/could not build the SSL configuration from the postmaster's snapshot/),
		'EXEC_BACKEND: damaged snapshot: the backend logs why');
}
else
{
	$node->connect_ok("$tcp sslmode=require",
		'fork: the damage hook has no effect (children inherit the context)');
	ok(!wait_for_log_now($node, qr/postmaster's snapshot/),
		'fork: no backend built from a snapshot');
}
$node->stop;
done_testing();
