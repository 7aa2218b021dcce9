#!/usr/bin/perl
# A tiny GeoIP database for proxyd's route_geoip test: loopback /24s with
# different made-up countries and AS numbers (IPv4 tree).
#   127.0.0.0/24 DE (EU) AS64500    127.0.1.0/24 JP (AS) AS64501
#   127.0.2.0/24 US (NA) AS64502    127.0.4.0/24 US (NA) AS64504
# Usage: route_geoip_db.pl OUT.mmdb
use strict;
use warnings;

use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: $0 OUT.mmdb\n";
my %types = (
    continent                => 'map',
    country                  => 'map',
    names                    => 'map',
    code                     => 'utf8_string',
    iso_code                 => 'utf8_string',
    en                       => 'utf8_string',
    autonomous_system_number => 'uint32',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 4,
    record_size              => 24,
    database_type            => 'g3c-Test-RouteGeoip',
    languages                => ['en'],
    description              => { en => 'g3c route_geoip test data' },
    map_key_type_callback    => sub { $types{ $_[0] } },
    remove_reserved_networks => 0,
);
for my $r ( [ '127.0.0.0/24', 'DE', 'EU', 64500 ], [ '127.0.1.0/24', 'JP', 'AS', 64501 ],
    [ '127.0.2.0/24', 'US', 'NA', 64502 ], [ '127.0.4.0/24', 'US', 'NA', 64504 ] )
{
    my ( $net, $cc, $cont, $asn ) = @$r;
    $tree->insert_network(
        $net,
        {
            continent                => { code => $cont, names => { en => $cont } },
            country                  => { iso_code => $cc, names => { en => $cc } },
            autonomous_system_number => $asn,
        }
    );
}
open( my $fh, '>:raw', "$out.tmp" ) or die "$out.tmp: $!\n";
$tree->write_tree($fh);
close($fh) or die "$out.tmp: $!\n";
rename( "$out.tmp", $out ) or die "$out: $!\n";
