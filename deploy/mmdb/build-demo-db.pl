#!/usr/bin/perl
# Build a small MaxMind DB (.mmdb) for iplocd's demo (`make run`) and tests,
# with Debian's libmaxmind-db-writer-perl. It covers only loopback, private
# and documentation ranges (RFC 1122, 1918, 4193, 5737, 3849) for IPv4 and
# IPv6; the countries, ASNs (private/documentation numbers, RFC 5398/6996)
# and ISP names are made up for the demo.
#
# Usage: build-demo-db.pl [--kind all|country|city|asn|isp|connection] [--variant 1|2]
#                         [--ip-version 4|6] [--record-size 24|28|32] OUT.mmdb
#   --kind     which fields the records carry, shaped like MaxMind's
#              GeoLite2-Country / GeoLite2-City / GeoLite2-ASN / GeoIP2-ISP
#              files (default all: every field in one file); `connection`
#              is like GeoIP2-Connection-Type: no field iplocd answers with
#   --variant  2 changes a few answers (tests of file replacement)
# The file is written to OUT.tmp and renamed, so a reader never sees half.
use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use MaxMind::DB::Writer::Tree;

my $kind = 'all';
my $variant = 1;
my $ip_version = 6;
my $record_size = 24;
GetOptions(
    'kind=s'        => \$kind,
    'variant=i'     => \$variant,
    'ip-version=i'  => \$ip_version,
    'record-size=i' => \$record_size,
) or die "usage: $0 [--kind K] [--variant N] [--ip-version 4|6] [--record-size N] OUT\n";
my $out = shift @ARGV or die "$0: no output file\n";
die "$0: unknown kind '$kind'\n" unless $kind =~ /^(all|country|city|asn|isp|connection)$/;

my %continent_of = (
    AU => 'OC', BR => 'SA', CA => 'NA', DE => 'EU', FR => 'EU', GB => 'EU',
    JP => 'AS', KR => 'AS', NZ => 'OC', US => 'NA', ZA => 'AF',
);

# Country networks. Nested ones come after their parent: the last insert
# wins where they overlap, so the more specific network keeps its answer.
my @country = (
    [ '127.0.0.0/8',      'GB' ],
    [ '10.0.0.0/8',       'US' ],
    [ '10.1.0.0/16',      'CA' ],
    [ '172.16.0.0/12',    'DE' ],
    [ '192.168.0.0/16',   'JP' ],
    [ '192.0.2.0/24',     $variant == 2 ? 'FR' : 'AU' ],
    [ '198.51.100.0/24',  'BR' ],
    [ '203.0.113.0/24',   'ZA' ],
    [ '203.0.113.128/25', 'NZ' ],
    [ '::1/128',          'GB' ],
    [ 'fd00::/8',         'FR' ],
    [ '2001:db8::/32',    'JP' ],
    [ '2001:db8:1::/48',  'KR' ],
);

# AS networks: deliberately cut differently from the country ones, so an
# answer's network is the more specific of the two.
my @asn = (
    [ '127.0.0.0/8',     64496, 'Demo Loopback AS',    'Demo Loopback',    'loopback.example' ],
    [ '10.0.0.0/9',      64512, 'Demo Private AS 1',   'Demo Private One', 'one.example' ],
    [ '10.128.0.0/9',    64513, 'Demo Private AS 2',   'Demo Private Two', 'two.example' ],
    [ '172.16.0.0/12',   64514, 'Demo Private AS 3',   'Demo Private Three', 'three.example' ],
    [ '192.168.0.0/16',  64515, 'Demo Home AS',        'Demo Home Net',    'home.example' ],
    [ '192.0.2.0/25',    $variant == 2 ? 64511 : 64497, 'Demo Doc AS 1', 'Demo Doc One', 'doc1.example' ],
    [ '198.51.100.0/24', 64498, 'Demo Doc AS 2',       'Demo Doc Two',     'doc2.example' ],
    [ '203.0.113.0/24',  64499, 'Demo Doc AS 3',       'Demo Doc Three',   'doc3.example' ],
    [ '::1/128',         64496, 'Demo Loopback AS',    'Demo Loopback',    'loopback.example' ],
    [ 'fd00::/8',        64516, 'Demo ULA AS',         'Demo ULA Net',     'ula.example' ],
    [ '2001:db8::/33',   64500, 'Demo Doc6 AS',        'Demo Doc6',        'doc6.example' ],
);

my %types = (
    continent                      => 'map',
    country                        => 'map',
    registered_country             => 'map',
    city                           => 'map',
    names                          => 'map',
    code                           => 'utf8_string',
    iso_code                       => 'utf8_string',
    geoname_id                     => 'uint32',
    en                             => 'utf8_string',
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
    isp                            => 'utf8_string',
    organization                   => 'utf8_string',
    domain                         => 'utf8_string',
    connection_type                => 'utf8_string',
);

my %db_type = (
    all     => 'g3c-Demo-All',
    country => 'g3c-Demo-Country',
    city    => 'g3c-Demo-City',
    asn     => 'g3c-Demo-ASN',
    isp     => 'g3c-Demo-ISP',
    connection => 'g3c-Demo-Connection-Type',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => $ip_version,
    record_size              => $record_size,
    database_type            => $db_type{$kind},
    languages                => ['en'],
    description              => { en => "g3c demo data ($kind, variant $variant)" },
    map_key_type_callback    => sub { $types{ $_[0] } },
    # The demo covers exactly the reserved ranges the writer drops by default.
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => $ip_version == 6 ? 1 : 0,
    merge_strategy           => 'none',
);

sub insert {
    my ( $net, $data ) = @_;
    return if $ip_version == 4 && $net =~ /:/;
    $tree->insert_network( $net, $data );
}

if ( $kind =~ /^(all|country|city)$/ ) {
    for my $c (@country) {
        my ( $net, $cc ) = @$c;
        my %rec = (
            continent => { code => $continent_of{$cc}, names => { en => $continent_of{$cc} } },
            country   => { iso_code => $cc, names => { en => $cc } },
            registered_country => { iso_code => $cc, names => { en => $cc } },
        );
        $rec{city} = { geoname_id => 1000, names => { en => "Demo City $cc" } } if $kind eq 'city';
        insert( $net, \%rec );
    }
}

if ( $kind eq 'all' ) {
    # One file with everything: the AS fields merge into the country
    # records where both cover an address.
    for my $a (@asn) {
        my ( $net, $asn, $org, $isp, $domain ) = @$a;
        $tree->insert_network(
            $net,
            {
                autonomous_system_number       => $asn,
                autonomous_system_organization => $org,
                isp                            => $isp,
                organization                   => $isp,
                domain                         => $domain,
            },
            { merge_strategy => 'toplevel' },
        ) unless $ip_version == 4 && $net =~ /:/;
    }
}
elsif ( $kind =~ /^(asn|isp)$/ ) {
    for my $a (@asn) {
        my ( $net, $asn, $org, $isp, $domain ) = @$a;
        my %rec = (
            autonomous_system_number       => $asn,
            autonomous_system_organization => $org,
        );
        if ( $kind eq 'isp' ) {
            $rec{isp}          = $isp;
            $rec{organization} = $isp;
            $rec{domain}       = $domain;
        }
        insert( $net, \%rec );
    }
}

if ( $kind eq 'connection' ) {
    insert( $_->[0], { connection_type => 'Cable/DSL' } ) for @country;
}

open my $fh, '>:raw', "$out.tmp" or die "$0: $out.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "$0: $out.tmp: $!\n";
rename "$out.tmp", $out or die "$0: rename to $out: $!\n";
